"""`commandcenter ingest`: apply one inbound message read from standard input.

For an MTA's pipe transport (Postfix `pipe`, Exim `pipe`…), e.g. in Postfix master.cf:
    commandcenter unix - n n - - pipe
      user=commandcenter argv=/path/to/commandcenter ingest --sender ${sender}
      --recipient ${recipient}
Exit status 0 whenever the message was stored (matched to an email or not): the MTA must not
bounce a bounce. 75 (EX_TEMPFAIL) only for our own passing trouble, such as a locked or
unreachable database, so the MTA keeps the message and tries again later.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from commandcenter.signals.apply import apply_inbound, is_temporary_failure

EX_TEMPFAIL = 75


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
                raise
            self.stderr.write(f"temporary failure, try again later: {error}")
            sys.exit(EX_TEMPFAIL)
        matched = ", ".join(str(i) for i in result.email_ids) or "no email"
        seen = " (seen before)" if result.duplicate else ""
        self.stdout.write(f"{result.kind}: {matched}{seen}")
