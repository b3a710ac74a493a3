"""The email state machine: the statuses, the one table of allowed moves, and `transition()`.

The status column is a cache of the events: every change goes through `transition()`, which
runs one conditional UPDATE (… WHERE id = ? AND status IN (allowed sources)) and writes the
Event in the same transaction. Zero rows changed means the move was not allowed from the
email's current status, or another process got there first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

if TYPE_CHECKING:
    from commandcenter.outbox.models import Email


class Status(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    ARCHIVED = "archived", "Archived"
    SCHEDULED = "scheduled", "Scheduled"
    DRAFT = "draft", "Draft"
    IN_PROGRESS = "in_progress", "In Progress"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    SPAM = "spam", "Spam"
    # Not a folder: a deleted email is hidden everywhere but keeps its events.
    DELETED = "deleted", "Deleted"


FOLDERS: tuple[str, ...] = tuple(s.value for s in Status if s != Status.DELETED)
UNDELIVERED = frozenset({Status.FAILED, Status.BOUNCED, Status.SPAM})

# target: the statuses an email may move to it from.
ALLOWED: Mapping[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.SCHEDULED}),
    Status.SCHEDULED: frozenset(
        {Status.DRAFT, Status.IN_PROGRESS, Status.FAILED, Status.BOUNCED, Status.SPAM}
    ),
    Status.IN_PROGRESS: frozenset({Status.SCHEDULED}),
    Status.DELIVERED: frozenset({Status.IN_PROGRESS, Status.ARCHIVED}),
    Status.ARCHIVED: frozenset({Status.DELIVERED}),
    Status.FAILED: frozenset({Status.SCHEDULED, Status.IN_PROGRESS}),
    # From In Progress too: a bounce or a complaint may arrive before the sender has recorded
    # the server's "250" (a fast MTA on the same host); the signal wins, whenever it comes.
    Status.BOUNCED: frozenset(
        {Status.DELIVERED, Status.ARCHIVED, Status.FAILED, Status.IN_PROGRESS}
    ),
    Status.SPAM: frozenset({Status.DELIVERED, Status.ARCHIVED, Status.BOUNCED, Status.IN_PROGRESS}),
    Status.DELETED: frozenset(
        {
            Status.ARCHIVED,
            Status.SCHEDULED,
            Status.DRAFT,
            Status.FAILED,
            Status.BOUNCED,
            Status.SPAM,
        }
    ),
}

# The statuses an email may be created in.
INITIAL = frozenset({Status.DRAFT, Status.SCHEDULED, Status.FAILED})


class IllegalTransition(Exception):
    """A move the table does not allow, or one another process made first."""

    def __init__(self, email_id: int, current: str | None, target: str) -> None:
        self.email_id = email_id
        self.current = current
        self.target = target
        label = Status(current).label if current in Status.values else current
        super().__init__(
            f"Email {email_id} is {label or 'gone'}; it cannot become {Status(target).label}."
        )


def is_allowed(source: str, target: str) -> bool:
    return source in ALLOWED.get(target, frozenset())


def sort_date_field(target: str) -> str | None:
    """The timestamp that a folder's list is sorted by, stamped when an email enters it."""
    stamps: dict[str, str] = {
        Status.DELIVERED: "sent_at",
        Status.FAILED: "failed_at",
        Status.BOUNCED: "failed_at",
        Status.SPAM: "failed_at",
    }
    return stamps.get(target)


def transition(
    email_id: int,
    target: str,
    *,
    kind: str,
    reason: str = "",
    payload: str = "",
    data: Mapping[str, Any] | None = None,
    sources: Iterable[str] | None = None,
    updates: Mapping[str, Any] | None = None,
    dedupe_key: str = "",
) -> bool:
    """Move one email to `target` and record the Event; True when this call made the move.

    `sources` narrows the allowed sources (e.g. only IN_PROGRESS for the sender); it can never
    widen them. `updates` are further columns written in the same UPDATE.
    """
    from commandcenter.outbox.models import Email, Event

    allowed = ALLOWED[target]
    if sources is not None:
        allowed = allowed & frozenset(sources)
    now = timezone.now()
    values = status_values(target, reason, updates, now)
    with transaction.atomic():
        previous = (
            Email.objects.filter(pk=email_id, status__in=allowed)
            .values_list("status", flat=True)
            .first()
        )
        if previous is None:
            return False
        changed = Email.objects.filter(pk=email_id, status=previous).update(**values)
        if not changed:
            # Nothing got updated: another process moved it between our read and write.
            return False
        Event.objects.create(
            email_id=email_id,
            kind=kind,
            from_status=previous,
            to_status=target,
            detail=reason,
            payload=payload,
            data=dict(data or {}),
            dedupe_key=dedupe_key,
            created_at=now,
        )
    return True


def status_values(
    target: str, reason: str, updates: Mapping[str, Any] | None, now: dt.datetime
) -> dict[str, Any]:
    """The columns one move writes: status, reason, and the date its new folder sorts by."""
    values: dict[str, Any] = {"status": target, "reason": reason, "updated_at": now}
    values.update(updates or {})
    stamp = sort_date_field(target)
    if stamp:
        values.setdefault(stamp, now)
        values.setdefault("sort_at", values[stamp])
    elif target == Status.DRAFT:
        values.setdefault("sort_at", now)
    return values


def transition_many(
    email_ids: Iterable[int],
    target: str,
    *,
    source: str,
    kind: str,
    reason: str = "",
    payload: str = "",
    data: Mapping[str, Any] | None = None,
    updates: Mapping[str, Any] | None = None,
    where: Q | None = None,
    data_by_email: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[int]:
    """Move those of `email_ids` that are in `source` (and match `where`) to `target`.

    One conditional UPDATE for all of them and one Event each, in one transaction; returns
    the ids this call moved. `where` narrows the condition further (e.g. "still claimed by
    this worker", "handoff never started"), so a check and its move can never drift apart.
    `data_by_email` adds per-email data to each one's Event (e.g. the server's reply).
    """
    from commandcenter.outbox.models import Email, Event

    if source not in ALLOWED[target]:
        raise ValueError(f"the state machine has no move from {source} to {target}")
    ids = list(email_ids)
    if not ids:
        return []
    now = timezone.now()
    condition = Q(pk__in=ids, status=source) & (where or Q())
    values = status_values(target, reason, updates, now)
    # No savepoint when nested: the caller's transaction is the unit (and one round trip less).
    with transaction.atomic(savepoint=False):
        if len(ids) == 1:
            # One row: the UPDATE's row count says whether we won, no lock needed.
            moved = ids if Email.objects.filter(condition).update(**values) else []
        else:
            # Lock the rows first so that the ids we read are exactly the ids we update
            # (SQLite's IMMEDIATE transactions already hold the write lock here).
            moved = list(
                Email.objects.select_for_update(of=("self",))
                .filter(condition)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            Email.objects.filter(condition, pk__in=moved).update(**values)
        Event.objects.bulk_create(
            Event(
                email_id=email_id,
                kind=kind,
                from_status=source,
                to_status=target,
                detail=reason,
                payload=payload,
                data={**(data or {}), **(data_by_email or {}).get(email_id, {})},
                created_at=now,
            )
            for email_id in moved
        )
    return moved


def record_event(
    email_id: int,
    kind: str,
    *,
    detail: str = "",
    payload: str = "",
    data: Mapping[str, Any] | None = None,
    dedupe_key: str = "",
    status: str | None = None,
) -> None:
    """An Event that moves nothing (an edit, a late proof of delivery, a signal the table
    refuses): from and to are the email's current status (`status`, or read now)."""
    from commandcenter.outbox.models import Email, Event

    if status is None:
        status = Email.objects.filter(pk=email_id).values_list("status", flat=True).first() or ""
    Event.objects.create(
        email_id=email_id,
        kind=kind,
        from_status=status,
        to_status=status,
        detail=detail,
        payload=payload,
        data=dict(data or {}),
        dedupe_key=dedupe_key,
        created_at=timezone.now(),
    )


def transition_or_raise(email: Email, target: str, **kwargs: Any) -> None:
    """transition() for user actions: refuses an illegal move with a readable message."""
    if not transition(email.pk, target, **kwargs):
        current = type(email).objects.filter(pk=email.pk).values_list("status", flat=True).first()
        raise IllegalTransition(email.pk, current, target)
    email.refresh_from_db()
