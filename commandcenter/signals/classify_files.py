"""`commandcenter classify FILE...`: what each inbound message is, as one JSON object a line.

Plain Python, no Django: the console script runs it without setting Django up (an MTA pipe
or a script pays no start-up for settings and apps), and the management command of the same
name calls it too. Output (DESIGN §4): `{"file", "kind", "recipients": [{"address",
"permanent", "hard_bounce", "reason", "dsn_status", "smtp_reply_code"}], "feedback_type",
"original_message_id", "return_date"}` per file; an unreadable file prints `{"file",
"error"}` and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from commandcenter.signals.classify import classify


class Writer(Protocol):
    def write(self, text: str) -> object: ...


USAGE = "usage: commandcenter classify FILE [FILE ...]"


def classify_files(names: Iterable[str], out: Writer) -> int:
    """Print one JSON line per file; the number of files that could not be read."""
    unreadable = 0
    for name in names:
        try:
            raw = Path(name).read_bytes()
        except OSError as error:
            unreadable += 1
            _print(out, {"file": name, "error": error.strerror or str(error)})
            continue
        _print(out, {"file": name, **classify(raw).as_dict()})
    return unreadable


def main(args: list[str]) -> int:
    """The command line: `args` are what follows `classify`; returns the exit status."""
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    files = args[1:] if args[0] == "--" else args
    unreadable = classify_files(files, sys.stdout)
    if unreadable:
        print(f"CommandError: {unreadable} file(s) could not be read", file=sys.stderr)
        return 1
    return 0


def _print(out: Writer, value: dict[str, Any]) -> None:
    out.write(json.dumps(value, ensure_ascii=False) + "\n")
