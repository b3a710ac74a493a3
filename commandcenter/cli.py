"""The `commandcenter` console script: Django's management commands under one name.

Sub-commands may be written with dashes (`import-people`); they map to the management
command of the same name with underscores. `classify` is plain Python and runs without
setting Django up (no settings, no apps, no database): its start-up is the classifier's
imports alone. `ingest` first hands its message to a running worker, also without Django
(signals/handoff.py), and sets Django up only when no worker listens.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext

from commandcenter.signals.pipe import defer_on_failure

# Sub-commands that need no Django: name -> "module:function" taking the remaining args.
PLAIN_COMMANDS = {"classify": "commandcenter.signals.classify_files:main"}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and args[1] in PLAIN_COMMANDS:
        return _run_plain(PLAIN_COMMANDS[args[1]], args[2:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    use_lean_settings(args)
    # An MTA's pipe bounces a message on any exit status but 75: see signals/pipe.py.
    guard = defer_on_failure() if args[1:2] == ["ingest"] else nullcontext()
    with guard:
        if args[1:2] == ["ingest"] and (status := _hand_off_ingest(args[2:])) is not None:
            return status
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


def _run_plain(target: str, args: list[str]) -> int:
    import importlib

    module_name, _, function = target.partition(":")
    return int(getattr(importlib.import_module(module_name), function)(args))


def _hand_off_ingest(args: list[str]) -> int | None:
    """`ingest` through the running worker: its exit status, or None to do it here (no
    worker listens, or options only the in-process command knows). Either way the message
    read from stdin stays readable for the command."""
    import argparse
    import io

    from commandcenter.signals import handoff

    parser = argparse.ArgumentParser(prog="commandcenter ingest", add_help=False)
    handoff.add_arguments(parser)
    options, others = parser.parse_known_args(args)
    raw = sys.stdin.buffer.read()
    sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
    if others:
        return None
    envelope = handoff.Envelope(options.sender, options.recipient, options.source)
    outcome = handoff.hand_off(raw, envelope, handoff.socket_path())
    if outcome is None:
        return None
    if outcome.stderr:
        sys.stderr.write(outcome.stderr.rstrip("\n") + "\n")
    if outcome.stdout:
        sys.stdout.write(outcome.stdout.rstrip("\n") + "\n")
    return outcome.status
