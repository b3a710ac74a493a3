"""The database as the queue: claiming due emails and recovering those a dead worker held.

A claim is one conditional UPDATE (scheduled -> in_progress, with this worker's name and a
lease) plus a "claimed" Event per email, in plain SQL (records.move_many). On PostgreSQL the
candidates are read with SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint
batches instead of queueing behind each other; SQLite runs the whole claim in an IMMEDIATE
transaction, which serializes claims.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from commandcenter.delivery.records import move_many
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, transition_many


def claim_due(worker_id: str, *, limit: int, lease_seconds: int) -> list[int]:
    """Claim up to `limit` due emails for this worker; the ids claimed, oldest due first."""
    now = timezone.now()
    with transaction.atomic():
        candidates = list(
            Email.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SCHEDULED, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        return move_many(
            {pk: {} for pk in candidates},
            Status.IN_PROGRESS,
            source=Status.SCHEDULED,
            claimed_by=None,
            kind="claimed",
            data={"worker": worker_id},
            updates={
                "claimed_by": worker_id,
                "lease_until": now + dt.timedelta(seconds=lease_seconds),
                "handoff_started_at": None,
            },
        )


def recover_stale() -> int:
    """Release the emails whose worker's lease ran out; how many were recovered.

    Never started (no handoff recorded) -> back to Scheduled: provably not sent. Handoff
    started -> Failed with "delivery unknown": it may have been delivered, so only a person
    may send it again (Retry Send). Each move re-checks its condition in its UPDATE, so a
    worker that is merely slow and records its handoff at this moment is never overruled.
    """
    now = timezone.now()
    stale = Email.objects.filter(status=Status.IN_PROGRESS, lease_until__lt=now)
    rows = list(stale.values_list("pk", "handoff_started_at"))
    never_started = [pk for pk, started in rows if started is None]
    recovered = transition_many(
        never_started,
        Status.SCHEDULED,
        source=Status.IN_PROGRESS,
        kind="recovered",
        data={"why": "the sender stopped before handing it to the mail server"},
        where=Q(lease_until__lt=now, handoff_started_at__isnull=True),
        updates={"claimed_by": "", "lease_until": None},
    )
    count = len(recovered)
    for pk, started in rows:
        if started is not None:
            count += len(
                transition_many(
                    [pk],
                    Status.FAILED,
                    source=Status.IN_PROGRESS,
                    kind="failed",
                    reason=delivery_unknown_reason(started),
                    where=Q(lease_until__lt=now, handoff_started_at=started),
                    updates={"claimed_by": "", "lease_until": None},
                )
            )
    return count


def delivery_unknown_reason(started: dt.datetime) -> str:
    return (
        "delivery unknown: the sender stopped while handing this email to the mail server at "
        f"{started:%Y-%m-%d %H:%M:%S} UTC; it may or may not have been delivered. "
        "Use Retry Send to send it again."
    )


def unknown_after_handoff(what_happened: str) -> str:
    """The reason of an email the server may have taken: never sent again by itself."""
    return (
        f"delivery unknown: {what_happened}; it may or may not have been delivered. "
        "Use Retry Send to send it again (it keeps its Message-ID)."
    )
