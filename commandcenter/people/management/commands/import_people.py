"""`commandcenter import-people FILE --user NAME [--dry-run]`: people from a CSV file."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from commandcenter.accounts.models import User
from commandcenter.people.importer import ImportReport, import_people_csv

# More than this many row errors are summarised: the first ones tell what is wrong.
ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = "Create or update a user's people from a CSV file (all or nothing)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the CSV file, or - for standard input")
        parser.add_argument("--user", required=True, help="the rep who owns these people")
        parser.add_argument("--dry-run", action="store_true", help="check the file, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = User.objects.filter(username=options["user"]).first()
        if owner is None:
            raise CommandError(f"No user named {options['user']!r}.")
        data = self._read(options["file"])
        report = import_people_csv(owner, data, dry_run=options["dry_run"], progress=self._progress)
        if report.errors:
            self._report_errors(report)
            raise CommandError(
                f"{len(report.errors):,} error(s) in {options['file']}; nothing was imported."
            )
        verb = "would be" if options["dry_run"] else "were"
        self.stdout.write(
            f"{report.created:,} people {verb} created and {report.updated:,} {verb} updated."
        )

    def _read(self, path: str) -> bytes:
        if path == "-":
            return sys.stdin.buffer.read()
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"checked {done:,} of {total:,} rows")

    def _report_errors(self, report: ImportReport) -> None:
        for error in report.errors[:ERRORS_SHOWN]:
            where = f"line {error.line}" if error.line else "file"
            self.stderr.write(f"{where}: {error.message}")
        hidden = len(report.errors) - ERRORS_SHOWN
        if hidden > 0:
            self.stderr.write(f"… and {hidden:,} more errors.")
