"""`commandcenter createuser NAME --email E [--admin] [--password P] [--team T]`."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from commandcenter.accounts.services import create_user, issue_api_token


class Command(BaseCommand):
    help = "Create a rep (or an admin) and print their API token as the last line."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the user name (login)")
        parser.add_argument("--email", required=True, help="the user's email address")
        parser.add_argument("--admin", action="store_true", help="may view as teammates")
        parser.add_argument("--password", help="a password for the web login (none: API only)")
        parser.add_argument("--team", default="default", help="the team (default: %(default)s)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                user = create_user(
                    options["name"],
                    email=options["email"],
                    password=options["password"],
                    admin=options["admin"],
                    team_name=options["team"].strip(),
                )
                token = issue_api_token(user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        role = "admin" if user.is_admin else "user"
        self.stderr.write(
            f"Created {role} {user.username} <{user.email}>; their API token, shown only now:"
        )
        self.stdout.write(token)
