"""`commandcenter imap-poll [--once] [--interval S]`: apply new mail from reps' mailboxes."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from commandcenter.signals.imap import poll_all


class Command(BaseCommand):
    help = "Poll the IMAP mailboxes of reps for replies, bounces and auto-replies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit (cron).")
        parser.add_argument("--interval", type=int, default=60, help="Seconds between passes.")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if not options["once"]:
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while not stop.is_set():
            for result in poll_all():
                outcome = result.error or f"{result.applied} new message(s)"
                self.stdout.write(f"account {result.account_id}: {outcome}")
            if options["once"]:
                return
            # A long-running loop: do not keep a connection the database may have dropped.
            close_old_connections()
            stop.wait(max(options["interval"], 1))
