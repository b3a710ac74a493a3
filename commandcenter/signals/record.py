"""The one function every signal from outside goes through on its way to becoming an Event.

Tracking hits, inbound mail (bounces, complaints, replies, auto-replies), ESP webhooks and
unsubscribes all call `record_signal()`. It moves the email only along the allowed
transitions; a signal that cannot move it (a second bounce, a complaint about a deleted
email) is still kept as an Event, so nothing that arrives is lost.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from commandcenter.campaigns import reactions as campaign_reactions
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import record_event, transition
from commandcenter.search import live

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
    # Campaigns end or pause on replies, bounces, unsubscribes, complaints, absences.
    campaign_reactions.on_signal(email, kind, data)
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
        record_event(
            email.pk, kind, detail=detail, payload=payload, data=data, dedupe_key=dedupe_key
        )
    if counter:
        Email.objects.filter(pk=email.pk).update(**{counter: F(counter) + 1})
    # Saved searches are dynamic lists: the email may join or leave some (search/live.py).
    live.signals_recorded([email.pk])


@dataclass(frozen=True)
class Signal:
    """One signal that moves no email (an open, a click), for `record_signals()`."""

    email_id: int
    kind: str
    detail: str = ""
    payload: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    counter: str | None = None
    # When it happened (a spooled hit is recorded a moment later); None: now.
    at: dt.datetime | None = None


def record_signals(signals: Sequence[Signal]) -> int:
    """record_signal() for many signals that move no email, in one transaction: one INSERT
    for their Events and one UPDATE per counter. For tracking hits, thousands a second."""
    unknown = {s.counter for s in signals if s.counter is not None} - COUNTERS
    if unknown:
        raise ValueError(f"unknown counter {sorted(unknown)!r}")
    if not signals:
        return 0
    now = timezone.now()
    with transaction.atomic():
        statuses = dict(
            Email.objects.filter(pk__in={s.email_id for s in signals}).values_list("pk", "status")
        )
        kept = [s for s in signals if s.email_id in statuses]
        Event.objects.bulk_create(
            [_event(s, statuses[s.email_id], now) for s in kept], batch_size=500
        )
        _add_to_counters(kept)
        # Saved searches are dynamic lists: these emails may join or leave some.
        live.signals_recorded({s.email_id for s in kept})
    return len(kept)


def _event(signal: Signal, status: str, now: dt.datetime) -> Event:
    return Event(
        email_id=signal.email_id,
        kind=signal.kind,
        from_status=status,
        to_status=status,
        detail=signal.detail,
        payload=signal.payload,
        data=dict(signal.data),
        created_at=signal.at or now,
    )


def _add_to_counters(signals: Sequence[Signal]) -> None:
    for counter in sorted(COUNTERS):
        added = Counter(s.email_id for s in signals if s.counter == counter)
        # One UPDATE per distinct increment (most emails of a batch get 1 or 2).
        by_increment: dict[int, list[int]] = defaultdict(list)
        for email_id, increment in added.items():
            by_increment[increment].append(email_id)
        for increment, ids in sorted(by_increment.items()):
            Email.objects.filter(pk__in=sorted(ids)).update(**{counter: F(counter) + increment})
