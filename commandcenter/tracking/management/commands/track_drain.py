"""`commandcenter track-drain [--once]`: records the spooled opens and clicks as events."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from commandcenter.tracking.hits import DRAIN_BATCH, DRAIN_INTERVAL, drain


class Command(BaseCommand):
    help = "Record the spooled opens and clicks as events (replays what a crash left)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Drain once and exit.")
        parser.add_argument(
            "--batch", type=int, default=DRAIN_BATCH, help="Spool lines per transaction."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            self.stdout.write(f"{drain(batch=options['batch'])} spooled hits read")
            return
        self.stopping = False
        signal.signal(signal.SIGTERM, self.on_sigterm)
        while not self.stopping:
            close_old_connections()
            drain(batch=options["batch"])
            time.sleep(DRAIN_INTERVAL)

    def on_sigterm(self, signum: int, frame: Any) -> None:
        self.stopping = True
