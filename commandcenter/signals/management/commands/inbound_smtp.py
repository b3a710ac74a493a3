"""`commandcenter inbound-smtp [--host H] [--port P]`: receive bounces and replies by SMTP.

Point the MX of BOUNCE_DOMAIN at it (or have the MTA relay that domain to it).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from commandcenter.signals.smtp import listener


class Command(BaseCommand):
    help = "Listen by SMTP for mail to the bounce domain and apply each message."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        server = listener(options["host"], options["port"])
        server.start()
        self.stdout.write(
            f"Receiving mail for @{settings.BOUNCE_DOMAIN} on "
            f"{options['host']}:{options['port']} (Ctrl-C or SIGTERM stops)"
        )
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
