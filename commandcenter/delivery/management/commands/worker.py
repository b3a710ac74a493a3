"""`commandcenter worker [--once]`: send due emails until stopped (or once, for cron and tests).

Looping, it also applies the inbound messages `commandcenter ingest` hands it
(signals/handoff.py)."""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from commandcenter.campaigns.engine import Engine
from commandcenter.delivery.sender import Sender
from commandcenter.outbox import counts
from commandcenter.signals import handoff
from commandcenter.signals.ingest import ingest_handed_off
from commandcenter.tracking import hits as tracking_hits

PAUSE_SECONDS = 2.0
log = logging.getLogger("commandcenter.delivery")


class Command(BaseCommand):
    help = "Send due emails: claim, send, record; loops until SIGTERM or SIGINT."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Send everything due now, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        sender = Sender()
        self.engine = Engine(sender.worker_id)
        if options["once"]:
            steps = self.engine.drain()
            handled = sender.drain()
            self.stdout.write(f"worker {sender.worker_id}: {handled} email(s) handled")
            self.stdout.write(f"worker {sender.worker_id}: {steps} campaign step(s) moved")
            return
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        # `commandcenter ingest` hands its message over here rather than start Django itself.
        path = handoff.socket_path()
        listener = handoff.listen(path, ingest_handed_off) if path else None
        self.stdout.write(f"worker {sender.worker_id} started", ending="\n")
        if listener and path:
            self.stdout.write(f"worker {sender.worker_id}: ingest hand-off on {path}")
        self.stdout.flush()
        try:
            while not self.stopping:
                self.drain(sender)
                self.pause()
        finally:
            if listener and path:
                handoff.stop(listener, path)
        self.stdout.write(f"worker {sender.worker_id} stopped")

    def drain(self, sender: Sender) -> None:
        """Batch after batch until nothing is due, honouring a stop request between batches;
        then the housekeeping that keeps reads cheap and signals recorded."""
        try:
            # Campaign steps first: the emails they make go out in the same drain.
            while not self.stopping and self.engine.run_once():
                pass
            sender.drain(stop=lambda: self.stopping)
            # Hits spooled by a web process that died before draining them get recorded here.
            tracking_hits.drain()
            counts.compact()
        except DatabaseError as error:
            # The database is down or restarting: keep the worker alive and try again.
            # What the batch held stays In Progress until its lease runs out, then recovery
            # sorts it out like after a crash.
            log.warning("worker %s: database error, retrying: %s", sender.worker_id, error)
            close_old_connections()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def pause(self) -> None:
        deadline = time.monotonic() + PAUSE_SECONDS
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)
