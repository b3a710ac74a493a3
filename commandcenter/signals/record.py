"""The one function every signal from outside goes through on its way to becoming an Event.

Tracking hits, inbound mail (bounces, complaints, replies, auto-replies), ESP webhooks and
unsubscribes all call `record_signal()`. It moves the email only along the allowed
transitions; a signal that cannot move it (a second bounce, a complaint about a deleted
email) is still kept as an Event, so nothing that arrives is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import transition

COUNTERS = frozenset({"opens", "clicks", "replies"})


def record_signal(
    email: Email,
    kind: str,
    *,
    target: str | None = None,
    detail: str = "",
    payload: str = "",
    data: Mapping[str, Any] | None = None,
    counter: str | None = None,
    dedupe_key: str = "",
) -> bool:
    """Record one signal for `email`; False when `dedupe_key` shows it was recorded before.

    `target`: the status the signal moves the email to, when the state machine allows it.
    `counter`: an engagement counter (opens, clicks, replies) to add one to.
    """
    if counter is not None and counter not in COUNTERS:
        raise ValueError(f"unknown counter {counter!r}")
    if dedupe_key and Event.objects.filter(email=email, dedupe_key=dedupe_key).exists():
        return False
    try:
        with transaction.atomic():
            _record(email, kind, target, detail, payload, dict(data or {}), counter, dedupe_key)
    except IntegrityError:
        # The same signal arrived twice at the same moment: the other one recorded it.
        return False
    return True


def _record(
    email: Email,
    kind: str,
    target: str | None,
    detail: str,
    payload: str,
    data: dict[str, Any],
    counter: str | None,
    dedupe_key: str,
) -> None:
    moved = target is not None and transition(
        email.pk,
        target,
        kind=kind,
        reason=detail,
        payload=payload,
        data=data,
        dedupe_key=dedupe_key,
    )
    if not moved:
        current = Email.objects.filter(pk=email.pk).values_list("status", flat=True).first() or ""
        Event.objects.create(
            email=email,
            kind=kind,
            from_status=current,
            to_status=current,
            detail=detail,
            payload=payload,
            data=data,
            dedupe_key=dedupe_key,
            created_at=timezone.now(),
        )
    if counter:
        Email.objects.filter(pk=email.pk).update(**{counter: F(counter) + 1})
