"""`commandcenter classify FILE...` as a management command (`manage.py classify`): the same
function the console script runs without Django (signals/classify_files.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commandcenter.signals.classify_files import classify_files


class Command(BaseCommand):
    help = "Classify inbound mail files (bounce, complaint, auto_reply, human); prints JSON lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        unreadable = classify_files(options["files"], self.stdout)
        if unreadable:
            raise CommandError(f"{unreadable} file(s) could not be read", returncode=1)
