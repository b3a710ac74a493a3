"""The `commandcenter` console script: Django's management commands under one name.

Sub-commands may be written with dashes (`import-people`); they map to the management
command of the same name with underscores.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext

from commandcenter.signals.pipe import defer_on_failure


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    use_lean_settings(args)
    # An MTA's pipe bounces a message on any exit status but 75: see signals/pipe.py.
    guard = defer_on_failure() if args[1:2] == ["ingest"] else nullcontext()
    with guard:
        from django.core.management import execute_from_command_line

        execute_from_command_line(args)
    return 0


# Commands a mail server starts once per message load only the apps they need: the same
# settings, fewer apps (commandcenter/settings_ingest.py).
LEAN_SETTINGS = {"ingest": "commandcenter.settings_ingest"}


def use_lean_settings(args: list[str]) -> None:
    """Switch to the command's lean settings, unless other settings than ours were chosen."""
    lean = LEAN_SETTINGS.get(args[1] if len(args) > 1 else "")
    if lean and os.environ["DJANGO_SETTINGS_MODULE"] == "commandcenter.settings":
        os.environ["DJANGO_SETTINGS_MODULE"] = lean
