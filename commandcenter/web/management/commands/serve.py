"""`commandcenter serve [--host H] [--port P] [--no-worker] [--no-catcher]`.

The whole app in one command: the web app under granian (a production server), the sender
(`commandcenter worker`) and the embedded mail catcher (`commandcenter mailcatcher`), each a
child process. SIGINT/SIGTERM are passed on to the children; when any child dies on its own,
the others are stopped and serve exits non-zero, so a supervisor sees the failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Each child runs Django's own entry point with our settings module (inherited through the
# environment), so it does not depend on where the console script was installed.
DJANGO = [sys.executable, "-m", "django"]
STOP_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2


class Command(BaseCommand):
    help = "Serve the web app (granian) with the sender worker and the mail catcher."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="do not start the sender")
        parser.add_argument(
            "--no-catcher", action="store_true", help="do not start the mail catcher"
        )
        parser.add_argument("--workers", type=int, default=2, help="web server worker processes")
        # 16: opens and clicks wait on the spool's fsync, not the CPU; fewer threads cap them
        # below 2,000 recorded hits/s on 2 cores (make bench BENCH_ARGS=tracking).
        parser.add_argument("--threads", type=int, default=16, help="threads per web worker")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {options['port']}.")
        call_command("collectstatic", interactive=False, verbosity=0)
        commands = self._commands(options)
        self._announce(options)
        self._stopping = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # The argv lists are built above from constants and validated options.
        children = {
            name: subprocess.Popen(argv, env=web_env(options["threads"]) if name == "web" else None)  # noqa: S603
            for name, argv in commands.items()
        }
        died = self._wait(children)
        self._stop(children)
        if died:
            name, code = died
            raise CommandError(f"{name} stopped unexpectedly (exit code {code}); shut down.")
        self.stdout.write("Stopped.")

    def _commands(self, options: dict[str, Any]) -> dict[str, list[str]]:
        commands = {
            "web": web_server(
                options["host"], options["port"], options["workers"], options["threads"]
            )
        }
        if not options["no_worker"]:
            commands["worker"] = [*DJANGO, "worker"]
        if not options["no_catcher"] and settings.MAIL_GOES_TO_CATCHER:
            commands["mail catcher"] = [*DJANGO, "mailcatcher"]
        return commands

    def _announce(self, options: dict[str, Any]) -> None:
        host = options["host"]
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"Command Center on http://{shown}:{options['port']}/")
        if not settings.MAIL_GOES_TO_CATCHER:
            self.stdout.write(f"Mail goes out through {_relay()} (EMAIL_URL).")
        elif options["no_catcher"]:
            self.stdout.write(
                "Mail goes to the mail catcher at "
                f"{settings.CATCHER_HOST}:{settings.CATCHER_PORT}, which --no-catcher did not "
                "start: sending fails until one runs there or EMAIL_URL is set."
            )
        else:
            self.stdout.write(
                f"Mail goes to the built-in mail catcher ({settings.CATCHER_DIR}): nothing "
                "leaves this machine. Set EMAIL_URL to send through a real relay."
            )
        self.stdout.flush()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _wait(self, children: dict[str, subprocess.Popen[bytes]]) -> tuple[str, int] | None:
        """Until a signal came (None) or a child exited by itself: (its name, its code)."""
        while not self._stopping:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    return name, code
            time.sleep(POLL_SECONDS)
        return None

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def web_server(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The production web server (the benchmarks run this same command): granian, whose
    HTTP handling in Rust leaves the cores to the app. On 2 cores it recorded 2.5-3x the
    tracking hits per second of gunicorn's gthread workers (bench/tracking.py,
    BENCH_TRACKING_SERVER=gunicorn).

    Its ASGI interface (commandcenter/asgi.py): the live feed's open connections are
    coroutines, so hundreds of idle feeds cost no thread; every other request runs the WSGI
    app in `threads` threads per worker (COMMANDCENTER_WSGI_THREADS, see web_env), which
    let the tracking spool share one disk sync among many hits."""
    return [
        sys.executable, "-m", "granian", "--interface", "asgi",
        "commandcenter.asgi:application",
        "--host", host, "--port", str(port),
        "--workers", str(workers), "--no-ws", "--log-level", "warning",
        # Open live feeds never end by themselves: a stop waits this long for them.
        "--workers-kill-timeout", "3",
    ]  # fmt: skip


def web_env(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The web server's environment: `threads` WSGI threads per worker."""
    return {
        **(base if base is not None else os.environ),
        "COMMANDCENTER_WSGI_THREADS": str(threads),
    }


def _relay() -> str:
    """Where mail goes, without the credentials that EMAIL_URL may hold."""
    host = getattr(settings, "EMAIL_HOST", "")
    if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend") and host:
        return f"{host}:{settings.EMAIL_PORT}"
    return settings.EMAIL_BACKEND
