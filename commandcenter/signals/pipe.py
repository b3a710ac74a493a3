"""The exit status an MTA's pipe transport needs from `commandcenter ingest`.

Postfix's pipe (and Exim's, with `temp_errors`) keeps a message and tries again only for
EX_TEMPFAIL (75) and a few other sysexits codes; any other non-zero status, such as the 1 of
a Python traceback, makes it bounce the message. A bounce of a bounce goes nowhere: the DSN
would be lost without a trace. So whatever stops `ingest` from applying a message - a bad
setting, an unwritable var/, a database that is down or not migrated, a bug - ends in one
line on stderr that says what went wrong, then exit 75: the message stays in the MTA's queue,
its log shows the line, and a `postqueue -f` after the fix delivers it.

This module imports nothing of Django: it wraps the whole command, settings included.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

EX_OK = 0
EX_TEMPFAIL = 75

PREFIX = "commandcenter ingest"


def deferral_line(what: str) -> str:
    """The line the MTA logs: one line, and first, since Postfix keeps only the start of the
    output (and must not find a 5.x.x status code there, which would bounce the message)."""
    what = " ".join(what.split())
    return f"{PREFIX}: {what} - exit 75, the mail server keeps the message and tries again"


@contextmanager
def defer_on_failure() -> Iterator[None]:
    """Turn every way the command can fail into a clear stderr line and exit status 75."""
    try:
        yield
    except SystemExit as stop:
        code = stop.code
        if code in (None, EX_OK, EX_TEMPFAIL):
            raise
        # argparse or Django already said why on stderr (a bad option, a CommandError).
        _say(deferral_line(f"stopped with exit status {code}"))
        sys.exit(EX_TEMPFAIL)
    except Exception as error:  # noqa: BLE001 - any failure must defer, not bounce
        import traceback  # only on this path: every message pays the start-up of ingest

        _say(deferral_line(f"{type(error).__name__}: {error}"), traceback.format_exc())
        sys.exit(EX_TEMPFAIL)


def _say(*lines: str) -> None:
    # A closed stderr must not turn the 75 into the 1 of a second traceback.
    with suppress(OSError):
        sys.stderr.write("\n".join(line.rstrip("\n") for line in lines) + "\n")
        sys.stderr.flush()
