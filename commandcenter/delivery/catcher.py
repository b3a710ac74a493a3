"""The embedded mail catcher: an SMTP server that keeps every message in a Maildir.

`make run` starts it so that nothing leaves the machine until a real relay is configured;
the web UI lists what it caught. The envelope is recorded in two headers added on top of
each message, as a local delivery agent would: Return-Path (the envelope sender) and
X-Envelope-To (the envelope recipients).
"""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings

# A Maildir key as mailbox.Maildir makes them: no slashes, no leading dot, nothing else.
KEY = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,199}")


@dataclass
class CaughtMessage:
    key: str
    sender: str
    recipients: list[str]
    subject: str
    date: dt.datetime
    size: int
    message_id: str = ""
    raw: bytes = b""


def catcher_dir() -> Path:
    return Path(settings.CATCHER_DIR)


class CatcherHandler:
    """aiosmtpd handler: every message accepted is stored, with its envelope."""

    def __init__(self, directory: Path | None = None) -> None:
        self.maildir = mailbox.Maildir(directory or catcher_dir(), create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        envelope_headers = (
            f"Return-Path: <{envelope.mail_from or ''}>\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("utf-8", "replace")
        key = self.maildir.add(envelope_headers + (envelope.original_content or b""))
        return f"250 2.0.0 Ok: caught as {key}"


def start_catcher(host: str | None = None, port: int | None = None) -> Controller:
    """Start the catcher in a background thread; stop it with `.stop()`."""
    controller = Controller(
        CatcherHandler(),
        hostname=host or settings.CATCHER_HOST,
        port=port or settings.CATCHER_PORT,
    )
    controller.start()
    return controller


def _message_files() -> dict[str, Path]:
    """Every caught message: key -> file (new/ and cur/; a name may carry ':2,' flags)."""
    files: dict[str, Path] = {}
    for sub in ("new", "cur"):
        folder = catcher_dir() / sub
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            if entry.is_file() and not entry.name.startswith("."):
                files[entry.name.split(":", 1)[0]] = Path(entry.path)
    return files


def _read(key: str, path: Path, *, with_raw: bool) -> CaughtMessage:
    raw = path.read_bytes()
    headers = BytesHeaderParser().parsebytes(raw)
    try:
        date = parsedate_to_datetime(str(headers.get("Date", "")))
    except (TypeError, ValueError):
        date = None
    if date is None or date.tzinfo is None:
        date = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return CaughtMessage(
        key=key,
        sender=str(headers.get("Return-Path", "")).strip().strip("<>"),
        recipients=[
            part.strip() for part in str(headers.get("X-Envelope-To", "")).split(",") if part
        ],
        subject=_decoded(headers.get("Subject", "")),
        date=date,
        size=len(raw),
        message_id=str(headers.get("Message-ID", "")).strip(),
        raw=raw if with_raw else b"",
    )


def _decoded(value: object) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeDecodeError):
        return str(value)


# mailbox.Maildir names a message "<seconds>.M<microseconds>P<pid>Q<counter>.<host>".
MAILDIR_NAME = re.compile(r"(\d+)\.M(\d+)P\d+Q(\d+)\.")


def _arrival(key: str, path: Path) -> tuple[int, int, int, int]:
    """Sort key for arrival order: the file's time, then the time and counter in its name
    (file times can be coarser than the gap between two messages)."""
    match = MAILDIR_NAME.match(key)
    seconds, micros, counter = (int(part) for part in match.groups()) if match else (0, 0, 0)
    return path.stat().st_mtime_ns, seconds, micros, counter


def list_messages(limit: int = 100) -> list[CaughtMessage]:
    """The caught messages, newest first (by arrival), without their bodies."""
    files = _message_files()
    newest = sorted(files.items(), key=lambda item: _arrival(*item), reverse=True)
    return [_read(key, path, with_raw=False) for key, path in newest[: max(limit, 0)]]


def get_message(key: str) -> CaughtMessage | None:
    """One caught message with its raw bytes; None for an unknown or malformed key."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        return None
    path = _message_files().get(key)
    if path is None:
        return None
    return _read(key, path, with_raw=True)
