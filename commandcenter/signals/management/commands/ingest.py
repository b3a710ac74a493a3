"""`commandcenter ingest`: apply one inbound message read from standard input.

For an MTA's pipe transport (Postfix `pipe`, Exim `pipe`…): docs/inbound.md has the
Postfix configuration the tests run (signals/tests/test_postfix_*.py), its environment and
what the pipe's user must be able to reach.
Exit status 0 whenever the message was stored (matched to an email or not): the MTA must not
bounce a bounce. 75 (EX_TEMPFAIL) for anything that kept it from being stored - a locked or
unreachable database here, and, through the console script's guard (signals/pipe.py), every
other failure, settings included - so the MTA keeps the message and tries again later.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from commandcenter.signals.apply import apply_inbound, is_temporary_failure
from commandcenter.signals.pipe import EX_TEMPFAIL, deferral_line


class Command(BaseCommand):
    help = "Apply one inbound message (bounce, complaint, reply…) read from standard input."
    stealth_options = ("stdin",)
    # Started once per message: the system checks would import the whole web app each time.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sender", default="", help="The envelope sender (MAIL FROM).")
        parser.add_argument(
            "--recipient", default="", help="The envelope recipient (the VERP address)."
        )
        parser.add_argument("--source", default="stdin", help="Where it came from, for the record.")

    def handle(self, *args: Any, **options: Any) -> None:
        stream: BinaryIO = options.get("stdin") or sys.stdin.buffer
        raw = stream.read()
        try:
            result = apply_inbound(
                raw,
                source=options["source"],
                envelope_sender=options["sender"],
                envelope_recipient=options["recipient"],
            )
        except DatabaseError as error:
            if not is_temporary_failure(error):
                raise  # the console script's guard still exits 75, with the traceback
            self.stderr.write(deferral_line(f"temporary failure, try again later: {error}"))
            sys.exit(EX_TEMPFAIL)
        matched = ", ".join(str(i) for i in result.email_ids) or "no email"
        seen = " (seen before)" if result.duplicate else ""
        self.stdout.write(f"{result.kind}: {matched}{seen}")
