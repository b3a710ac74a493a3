"""`commandcenter token NAME`: issue a new API token for an existing user."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from commandcenter.accounts.services import issue_api_token_for


class Command(BaseCommand):
    help = (
        "Issue a new API token for a user and print it as the last line; "
        "their previous token stops working."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the user name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = issue_api_token_for(options["name"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(
            f"Issued a new API token for {options['name']}, shown only now; "
            "their previous token no longer works:"
        )
        self.stdout.write(token)
