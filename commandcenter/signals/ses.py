"""Amazon SES notifications (bounce, complaint, delivery) that arrive as mail: an SNS
envelope whose `Message` is the SES event, as JSON. Bad JSON is simply not a notification."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from commandcenter.signals.dsn import bare_address


@dataclass
class Entry:
    address: str
    action: str = ""
    status: str = ""
    diagnostic: str = ""


@dataclass
class Notification:
    kind: str  # bounce | complaint
    permanent: bool = True
    feedback_type: str = ""
    message_id: str = ""
    recipients: list[Entry] = field(default_factory=list)


def read_notification(text: str) -> Notification | None:
    event = _event(text)
    if event is None:
        return None
    kind = str(event.get("notificationType") or event.get("eventType") or "").lower()
    mail = _dict(event.get("mail"))
    message_id = _angle(str(_common_header(mail, "messageId") or ""))
    if kind == "bounce":
        bounce = _dict(event.get("bounce"))
        entries = _entries(bounce.get("bouncedRecipients"))
        permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
        return Notification("bounce", permanent, "", message_id, entries)
    if kind == "complaint":
        complaint = _dict(event.get("complaint"))
        entries = _entries(complaint.get("complainedRecipients"))
        feedback = str(complaint.get("complaintFeedbackType") or "abuse").lower()
        return Notification("complaint", False, feedback, message_id, entries)
    if kind == "delivery":
        delivery = _dict(event.get("delivery"))
        entries = [
            Entry(address, "delivered", "2.6.0", str(delivery.get("smtpResponse", "")))
            for address in (bare_address(str(r)) for r in _list(delivery.get("recipients")))
            if address
        ]
        return Notification("bounce", False, "", message_id, entries)
    return None


def _event(text: str) -> dict[str, Any] | None:
    text = text.strip()
    try:
        try:
            outer = _first_json(text)
        except ValueError:
            # Long lines folded by a mail system ("\n " inside a JSON string): unfold them.
            outer = _first_json(re.sub(r"\r?\n ", "", text))
        if isinstance(outer, dict) and isinstance(outer.get("Message"), str):
            outer = json.loads(outer["Message"])
    except (ValueError, RecursionError):
        return None
    return outer if isinstance(outer, dict) else None


def _first_json(text: str) -> object:
    """The JSON value the text starts with; a signature or footer may follow it."""
    return json.JSONDecoder().raw_decode(text)[0]


def _entries(values: object) -> list[Entry]:
    return [entry for value in _list(values) if (entry := _entry(value)) is not None]


def _entry(value: object) -> Entry | None:
    item = _dict(value)
    address = bare_address(str(item.get("emailAddress", "")))
    if not address:
        return None
    return Entry(
        address,
        str(item.get("action", "")).lower(),
        str(item.get("status", "")),
        str(item.get("diagnosticCode", "")),
    )


def _common_header(mail: dict[str, Any], name: str) -> object:
    return _dict(mail.get("commonHeaders")).get(name) or mail.get(name)


def _angle(value: str) -> str:
    value = value.strip()
    return value if not value or value.startswith("<") else f"<{value}>"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
