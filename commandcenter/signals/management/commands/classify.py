"""`commandcenter classify FILE...`: what each inbound message is, as one JSON object a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commandcenter.signals.classify import classify


class Command(BaseCommand):
    help = "Classify inbound mail files (bounce, complaint, auto_reply, human); prints JSON lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        unreadable = 0
        for name in options["files"]:
            try:
                raw = Path(name).read_bytes()
            except OSError as error:
                unreadable += 1
                self._print({"file": name, "error": error.strerror or str(error)})
                continue
            self._print({"file": name, **classify(raw).as_dict()})
        if unreadable:
            raise CommandError(f"{unreadable} file(s) could not be read", returncode=1)

    def _print(self, value: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(value, ensure_ascii=False))
