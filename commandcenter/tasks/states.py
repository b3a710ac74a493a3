"""The task state machine: open, completed, skipped (and deleted, hidden like a deleted email).

One table of allowed moves and one `transition()` that makes a move with a conditional
UPDATE and writes the TaskEvent in the same transaction; zero rows changed means the move
was not allowed from the task's status, or someone else made it first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from commandcenter.lib.statetable import move_with_events


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    SKIPPED = "skipped", _("Skipped")
    # Not a view: hand-made tasks can be deleted; their events are kept.
    DELETED = "deleted", _("Deleted")


DONE = frozenset({TaskStatus.COMPLETED, TaskStatus.SKIPPED})

# target: the statuses a task may move to it from.
ALLOWED: Mapping[str, frozenset[str]] = {
    TaskStatus.COMPLETED: frozenset({TaskStatus.OPEN}),
    TaskStatus.SKIPPED: frozenset({TaskStatus.OPEN}),
    TaskStatus.DELETED: frozenset({TaskStatus.OPEN, TaskStatus.COMPLETED, TaskStatus.SKIPPED}),
}


class TaskRefused(Exception):
    """An action the task's status or origin does not allow, with a message for the rep."""


def transition_many(
    task_ids: Iterable[int],
    target: str,
    *,
    kind: str,
    actor_id: int | None,
    detail: str = "",
    data: Mapping[str, Any] | None = None,
    updates: Mapping[str, Any] | None = None,
) -> list[int]:
    """Move those tasks whose status allows it to `target`, one TaskEvent each; the ids moved."""
    from commandcenter.tasks.models import Task, TaskEvent

    ids = sorted(set(task_ids))
    if not ids:
        return []
    now = timezone.now()
    values: dict[str, Any] = {"status": target, "updated_at": now, **(updates or {})}
    if target in DONE:
        values.setdefault("done_at", now)
        values.setdefault("done_by_id", actor_id)
    return move_with_events(
        Task,
        ids,
        field="status",
        allowed=ALLOWED[target],
        values=values,
        event=lambda pk, source: TaskEvent(
            task_id=pk,
            kind=kind,
            from_status=source,
            to_status=target,
            actor_id=actor_id,
            detail=detail,
            data=dict(data or {}),
            created_at=now,
        ),
    )


def transition(task_id: int, target: str, **kwargs: Any) -> bool:
    return bool(transition_many([task_id], target, **kwargs))


def record_event(
    task_id: int,
    kind: str,
    *,
    actor_id: int | None,
    status: str,
    detail: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    """A TaskEvent that moves nothing: created, edited, snoozed, reassigned."""
    from commandcenter.tasks.models import TaskEvent

    TaskEvent.objects.create(
        task_id=task_id,
        kind=kind,
        from_status=status,
        to_status=status,
        actor_id=actor_id,
        detail=detail,
        data=dict(data or {}),
        created_at=timezone.now(),
    )
