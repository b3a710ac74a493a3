"""The enrolment state machine: active, paused, finished, exited; and `transition()`.

As for emails (outbox/states.py): one table of allowed moves, one function that makes a
move with a conditional UPDATE (… WHERE id = ? AND state IN (allowed sources)) and writes
the EnrolmentEvent in the same transaction. Zero rows changed: the move was not allowed
from the current state, or another process made it first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from commandcenter.lib.statetable import move_with_events


class State(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")
    EXITED = "exited", _("Exited")


# Enrolments in these states hold the person's one place in the campaign.
LIVE = frozenset({State.ACTIVE, State.PAUSED})
FINAL = frozenset({State.FINISHED, State.EXITED})

# target: the states an enrolment may move to it from.
ALLOWED: Mapping[str, frozenset[str]] = {
    State.ACTIVE: frozenset({State.PAUSED}),
    State.PAUSED: frozenset({State.ACTIVE}),
    State.FINISHED: frozenset({State.ACTIVE}),
    State.EXITED: frozenset({State.ACTIVE, State.PAUSED}),
}


class ExitReason(models.TextChoices):
    REPLIED = "replied", _("Replied")
    BOUNCED = "bounced", _("Bounced")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    SPAM = "spam", _("Marked as spam")
    REMOVED = "removed", _("Removed by hand")
    STOPPED = "stopped", _("Campaign stopped")


def transition_many(
    enrolment_ids: Iterable[int],
    target: str,
    *,
    kind: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
    updates: Mapping[str, Any] | None = None,
    sources: Iterable[str] | None = None,
) -> list[int]:
    """Move those of the enrolments whose state allows it to `target`, one EnrolmentEvent
    each, in one transaction; the ids this call moved. `sources` can only narrow the table."""
    from commandcenter.campaigns.models import Enrolment, EnrolmentEvent

    allowed = ALLOWED[target] if sources is None else ALLOWED[target] & frozenset(sources)
    ids = sorted(set(enrolment_ids))
    if not ids:
        return []
    now = timezone.now()
    values = {"state": target, "updated_at": now, **(updates or {})}
    if target in FINAL or target == State.PAUSED:
        values.setdefault("reason", reason)
    elif target == State.ACTIVE:
        values.setdefault("reason", "")
        values.setdefault("paused_until", None)
    return move_with_events(
        Enrolment,
        ids,
        field="state",
        allowed=allowed,
        values=values,
        event=lambda pk, source: EnrolmentEvent(
            enrolment_id=pk,
            kind=kind,
            from_state=source,
            to_state=target,
            detail=reason,
            data=dict(data or {}),
            created_at=now,
        ),
    )


def transition(enrolment_id: int, target: str, **kwargs: Any) -> bool:
    """transition_many() for one enrolment: True when this call made the move."""
    return bool(transition_many([enrolment_id], target, **kwargs))


def record_event(enrolment_id: int, kind: str, *, detail: str = "", data: Any = None) -> None:
    """An EnrolmentEvent that moves nothing (a step run, a step moved, an edit)."""
    from commandcenter.campaigns.models import Enrolment, EnrolmentEvent

    state = Enrolment.objects.filter(pk=enrolment_id).values_list("state", flat=True).first()
    EnrolmentEvent.objects.create(
        enrolment_id=enrolment_id,
        kind=kind,
        from_state=state or "",
        to_state=state or "",
        detail=detail,
        data=dict(data or {}),
        created_at=timezone.now(),
    )
