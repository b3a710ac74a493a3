"""`commandcenter ingest`: apply one inbound message read from standard input.

For an MTA's pipe transport (Postfix `pipe`, Exim `pipe`…): docs/inbound.md has the
Postfix configuration the tests run (signals/tests/test_postfix_*.py), its environment and
what the pipe's user must be able to reach. The console script first hands the message to a
running worker (signals/handoff.py), which saves this process Django's start-up; this
command is what runs when no worker listens, and `python -m django ingest`.
Exit status 0 whenever the message was stored (matched to an email or not): the MTA must not
bounce a bounce. 75 (EX_TEMPFAIL) for anything that kept it from being stored - a locked or
unreachable database here, and, through the console script's guard (signals/pipe.py), every
other failure, settings included - so the MTA keeps the message and tries again later.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandParser

from commandcenter.signals import handoff
from commandcenter.signals.ingest import ingest_one


class Command(BaseCommand):
    help = "Apply one inbound message (bounce, complaint, reply…) read from standard input."
    stealth_options = ("stdin",)
    # Started once per message: the system checks would import the whole web app each time.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        handoff.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        stream: BinaryIO = options.get("stdin") or sys.stdin.buffer
        envelope = handoff.Envelope(options["sender"], options["recipient"], options["source"])
        outcome = ingest_one(stream.read(), envelope)
        if outcome.stderr:
            self.stderr.write(outcome.stderr)
        if outcome.stdout:
            self.stdout.write(outcome.stdout)
        if outcome.status:
            sys.exit(outcome.status)
