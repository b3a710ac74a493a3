"""`commandcenter mailcatcher [--host H] [--port P]`: keep every message in a local Maildir."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commandcenter.delivery.catcher import catcher_dir, start_catcher


class Command(BaseCommand):
    help = "Run the embedded mail catcher: an SMTP server that stores every message it gets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.CATCHER_HOST)
        parser.add_argument("--port", type=int, default=settings.CATCHER_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {options['port']}")
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            controller = start_catcher(options["host"], options["port"])
        except OSError as error:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {error}"
            ) from None
        self.stdout.write(
            f"mail catcher listening on smtp://{options['host']}:{options['port']}, "
            f"storing messages in {catcher_dir()}"
        )
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            controller.stop()
        self.stdout.write("mail catcher stopped")
