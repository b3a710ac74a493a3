"""ESP webhooks: django-anymail's tracking signal, mapped onto our events.

Anymail receives each provider's webhook at /anymail/<esp>/tracking/ (HTTP basic auth with
ANYMAIL_WEBHOOK_SECRET), normalises it into an AnymailTrackingEvent and sends the
`tracking` signal; `on_tracking_event` finds our email (the `email_token` metadata the
sender attaches, else the ESP's message id recorded when it was sent) and records the
signal. The mapping is data; an event type not in it is kept as an event and changes nothing.

Opens and clicks reported by an ESP are recorded as events but not counted: our counters
hold human events only, and an ESP cannot say whether a person or a scanner opened it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent
from django.db.models import Q

from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.services import unsubscribe_address
from commandcenter.signals.apply import suppress
from commandcenter.signals.classify import HARD_REASONS
from commandcenter.signals.dsn import status_code
from commandcenter.signals.reasons import reason_for
from commandcenter.signals.record import record_signal

logger = logging.getLogger(__name__)

# anymail EventType -> (our event kind, the status it moves the email to).
EVENTS: dict[str, tuple[str, str | None]] = {
    "delivered": ("delivered", None),
    "bounced": ("bounced", Status.BOUNCED),
    "rejected": ("bounced", Status.BOUNCED),
    "failed": ("bounced", Status.BOUNCED),
    "deferred": ("deferred_bounce", None),
    "complained": ("complained", Status.SPAM),
    "unsubscribed": ("unsubscribed", None),
    "opened": ("opened", None),
    "clicked": ("clicked", None),
    "autoresponded": ("auto_replied", None),
}
# Event types after which the person must not be mailed again.
UNSUBSCRIBING = frozenset({"complained", "unsubscribed"})


def on_tracking_event(sender: object, event: AnymailTrackingEvent, esp_name: str, **_: Any) -> None:
    email = email_for(event)
    if email is None:
        logger.info("%s %s event for no email of ours", esp_name, event.event_type)
        return
    kind, target = EVENTS.get(event.event_type, (f"esp_{event.event_type}", None))
    detail, data = _describe(event, esp_name)
    if target == Status.BOUNCED:
        detail = bounce_detail(event, data)
    record_signal(
        email,
        kind,
        target=target,
        detail=detail,
        payload=_raw(event),
        data=data,
        dedupe_key=_dedupe_key(event, esp_name),
    )
    if event.event_type in UNSUBSCRIBING:
        unsubscribe_address(email.person.email)


def email_for(event: AnymailTrackingEvent) -> Email | None:
    token = (event.metadata or {}).get("email_token")
    if isinstance(token, str) and token:
        found = Email.objects.filter(token=token).first()
        if found is not None:
            return found
    if not event.message_id:
        return None
    message_id = str(event.message_id)
    sent = Event.objects.filter(
        Q(data__anymail_status__message_id=message_id), kind="sent"
    ).values_list("email_id", flat=True)
    return Email.objects.filter(Q(message_id=message_id) | Q(pk__in=sent)).first()


def _describe(event: AnymailTrackingEvent, esp_name: str) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {
        "esp": esp_name,
        "event_type": event.event_type,
        "reject_reason": event.reject_reason or "",
        "recipient": event.recipient or "",
        "mta_response": event.mta_response or "",
        "description": event.description or "",
        "user_agent": event.user_agent or "",
        "click_url": event.click_url or "",
    }
    words = event.description or event.mta_response or event.event_type
    return f"{esp_name}: {words}"[:1000], data


def bounce_detail(event: AnymailTrackingEvent, data: dict[str, Any]) -> str:
    """Our reason vocabulary for an ESP bounce, read from the MTA's response like any DSN."""
    text = event.mta_response or event.description or ""
    status = status_code(text)
    reason = reason_for(text, status)
    hard = reason in HARD_REASONS
    data.update({"reason": reason, "dsn_status": status, "hard_bounce": hard})
    if hard and event.recipient:
        suppress(event.recipient, f"{reason}: {text}"[:500])
    suffix = " (hard bounce)" if hard else ""
    return f"{reason}: {' '.join(text.split()) or 'no details given'}"[:900] + suffix


def _dedupe_key(event: AnymailTrackingEvent, esp_name: str) -> str:
    if event.event_id:
        return f"esp:{esp_name}:{event.event_id}"[:255]
    digest = hashlib.sha256(_raw(event).encode()).hexdigest()
    return f"esp:{esp_name}:{event.event_type}:{digest}"


def _raw(event: AnymailTrackingEvent) -> str:
    """The provider's own payload, kept beside the normalised event."""
    try:
        return json.dumps(event.esp_event, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return repr(event.esp_event)
