"""What a rep does with tasks: make, edit, complete, skip, snooze, reassign, delete.

The web UI, the API and the engine all call these; every change leaves a TaskEvent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns import progress as campaign_progress
from commandcenter.lib.statetable import move_rows
from commandcenter.lib.zones import zone
from commandcenter.people.models import Person
from commandcenter.people.services import normalise_address, people_by_address
from commandcenter.tasks.models import Task
from commandcenter.tasks.states import TaskRefused, TaskStatus, record_event, transition_many

MAX_NOTES = 20_000
MAX_TITLE = 300


class TaskError(Exception):
    """Bad task input: `errors` maps a field name to a message for a person."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class TaskFields:
    """What a person may set on a task (None: leave as it is / the default)."""

    type: str | None = None
    priority: str | None = None
    title: str | None = None
    due_at: dt.datetime | None = None
    all_day: bool | None = None
    notes: str | None = None
    outcome: str | None = None
    outcome_notes: str | None = None
    person: str | None = None  # an address; "" takes the person off


def _check(fields: TaskFields, errors: dict[str, str], *, creating: bool) -> None:
    if creating and fields.type is None:
        errors["type"] = "Choose a type: email, call, linkedin or custom."
    if fields.type is not None and fields.type not in Task.Type.values:
        errors["type"] = (
            f"Unknown type {str(fields.type)[:30]!r}; one of email, call, linkedin, custom."
        )
    if fields.priority is not None and fields.priority not in Task.Priority.values:
        errors["priority"] = "Priority is normal or high."
    if creating and fields.due_at is None:
        errors["due_at"] = "A due date is required."
    if fields.due_at is not None and timezone.is_naive(fields.due_at):
        errors["due_at"] = "The due time needs a time zone (e.g. 2026-12-01T09:00:00+01:00)."
    if fields.outcome not in (None, "") and fields.outcome not in Task.Outcome.values:
        errors["outcome"] = "Unknown outcome; one of " + ", ".join(Task.Outcome.values) + "."
    if fields.title is not None and len(fields.title) > MAX_TITLE:
        errors["title"] = f"At most {MAX_TITLE} characters."
    for name in ("notes", "outcome_notes"):
        value = getattr(fields, name)
        if value is not None and len(value) > MAX_NOTES:
            errors[name] = f"At most {MAX_NOTES:,} characters."


def _person(user: User, address: str | None, errors: dict[str, str]) -> Person | None:
    if not address:
        return None
    try:
        normal = normalise_address(address)
    except ValidationError as error:
        errors["person"] = error.messages[0]
        return None
    return people_by_address(user, [normal])[normal]


def whole_day(day: dt.date, user: User) -> dt.datetime:
    """The due moment of an all-day task: the start of that day in the user's zone."""
    return dt.datetime.combine(day, dt.time(0, 0)).replace(tzinfo=zone(user.time_zone))


def create_task(user: User, fields: TaskFields) -> Task:
    errors: dict[str, str] = {}
    _check(fields, errors, creating=True)
    if errors:
        raise TaskError(errors)
    with transaction.atomic():
        person = _person(user, fields.person, errors)
        if errors:
            raise TaskError(errors)
        assert fields.type is not None and fields.due_at is not None
        task = Task.objects.create(
            owner=user,
            assignee=user,
            person=person,
            type=fields.type,
            priority=fields.priority or Task.Priority.NORMAL,
            title=fields.title or "",
            due_at=fields.due_at,
            all_day=bool(fields.all_day),
            notes=fields.notes or "",
            outcome=fields.outcome or "",
            outcome_notes=fields.outcome_notes or "",
        )
        record_event(task.pk, "created", actor_id=user.pk, status=task.status)
    return task


EDITABLE = ("type", "priority", "title", "due_at", "all_day", "notes", "outcome", "outcome_notes")


def edit_task(user: User, task: Task, fields: TaskFields) -> Task:
    errors: dict[str, str] = {}
    _check(fields, errors, creating=False)
    if task.status == TaskStatus.DELETED:
        raise TaskRefused("This task was deleted.")
    changes: dict[str, Any] = {
        name: getattr(fields, name) for name in EDITABLE if getattr(fields, name) is not None
    }
    with transaction.atomic():
        if fields.person is not None:
            changes["person"] = _person(user, fields.person, errors)
        if errors:
            raise TaskError(errors)
        if not changes:
            return task
        before = {name: _plain(getattr(task, name)) for name in changes}
        Task.objects.filter(pk=task.pk).update(updated_at=timezone.now(), **changes)
        record_event(
            task.pk,
            "edited",
            actor_id=user.pk,
            status=task.status,
            data={"before": before, "after": {k: _plain(v) for k, v in changes.items()}},
        )
    task.refresh_from_db()
    return task


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Person):
        return value.email
    return value


def _refuse_unless_moved(tasks: Sequence[Task], moved: list[int], verb: str) -> None:
    if len(tasks) == 1 and not moved:
        task = Task.objects.get(pk=tasks[0].pk)
        raise TaskRefused(f"This task is {task.get_status_display()}; it cannot be {verb}.")


def complete(
    user: User,
    tasks: Sequence[Task],
    *,
    outcome: str = "",
    outcome_notes: str = "",
    email_id: int | None = None,
) -> list[int]:
    """Complete open tasks (a call's outcome with it); the ids completed."""
    if outcome and outcome not in Task.Outcome.values:
        raise TaskError({"outcome": "Unknown outcome; one of " + ", ".join(Task.Outcome.values)})
    updates: dict[str, Any] = {}
    if outcome:
        updates["outcome"] = outcome
    if outcome_notes:
        updates["outcome_notes"] = outcome_notes
    if email_id is not None:
        updates["email_id"] = email_id
    with transaction.atomic():
        moved = transition_many(
            [t.pk for t in tasks],
            TaskStatus.COMPLETED,
            kind="completed",
            actor_id=user.pk,
            data={"outcome": outcome} if outcome else None,
            updates=updates,
        )
        # A campaign's task: its step is done, in the task's own transaction.
        campaign_progress.tasks_done(moved)
    _refuse_unless_moved(tasks, moved, "completed")
    return moved


def skip(user: User | None, tasks: Sequence[Task], *, reason: str = "") -> list[int]:
    with transaction.atomic():
        moved = transition_many(
            [t.pk for t in tasks],
            TaskStatus.SKIPPED,
            kind="skipped",
            actor_id=user.pk if user else None,
            detail=reason,
            updates={"reason": reason} if reason else None,
        )
        campaign_progress.tasks_done(moved)
    _refuse_unless_moved(tasks, moved, "skipped")
    return moved


def snooze(user: User, tasks: Sequence[Task], until: dt.datetime) -> list[int]:
    """Move open tasks' due time to `until` (an hour, tomorrow morning, next week, a date)."""
    if timezone.is_naive(until):
        raise TaskError({"until": "The time needs a time zone (e.g. 2026-12-01T09:00:00+01:00)."})
    if until < timezone.now() - dt.timedelta(minutes=5):
        raise TaskError({"until": "Snooze to a time in the future."})
    return _update_open(user, tasks, {"due_at": until, "all_day": False}, "snoozed", "snoozed")


def reassign(user: User, tasks: Sequence[Task], assignee: User) -> list[int]:
    """Give open tasks to a teammate (or take them back): their list shows them."""
    if assignee.pk != user.pk and (user.team_id is None or assignee.team_id != user.team_id):
        raise TaskError({"assignee": "Tasks can go only to a teammate."})
    return _update_open(user, tasks, {"assignee": assignee}, "reassigned", "reassigned")


def _update_open(
    user: User, tasks: Sequence[Task], values: dict[str, Any], kind: str, verb: str
) -> list[int]:
    ids = [t.pk for t in tasks]
    with transaction.atomic():
        moved = move_rows(
            Task,
            ids,
            field="status",
            allowed=[TaskStatus.OPEN],
            values={"updated_at": timezone.now(), **values},
        ).get(TaskStatus.OPEN, [])
        data = {k: _plain(v) if not isinstance(v, User) else v.username for k, v in values.items()}
        for pk in moved:
            record_event(pk, kind, actor_id=user.pk, status=TaskStatus.OPEN, data=data)
    _refuse_unless_moved(tasks, moved, verb)
    return sorted(moved)


def delete(user: User, tasks: Sequence[Task]) -> list[int]:
    """Delete tasks made by hand; a campaign's tasks are done or skipped, never deleted."""
    from_campaign = [t for t in tasks if not t.is_by_hand]
    if from_campaign:
        raise TaskRefused(
            "A campaign's task cannot be deleted; skip it, or remove the person from the campaign."
        )
    moved = transition_many(
        [t.pk for t in tasks], TaskStatus.DELETED, kind="deleted", actor_id=user.pk
    )
    _refuse_unless_moved(tasks, moved, "deleted")
    return moved
