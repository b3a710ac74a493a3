"""Tasks under /api/v1/tasks. Thin handlers: the rules live in commandcenter.tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja import Status as Reply
from ninja.errors import HttpError
from pydantic import StrictBool

from commandcenter.accounts.models import User
from commandcenter.api.auth import viewer
from commandcenter.api.errors import BadInput
from commandcenter.api.pagination import MAX_ID
from commandcenter.api.schemas import Input, IsoTime, Text, answers
from commandcenter.lib.zones import zone
from commandcenter.tasks import services
from commandcenter.tasks.models import Task
from commandcenter.tasks.queries import VIEWS, Days, Filters, view_counts, view_tasks
from commandcenter.tasks.states import TaskRefused, TaskStatus

router = Router(tags=["tasks"])
MAX_LIST = 500


class TaskIn(Input):
    type: Literal["email", "call", "linkedin", "custom"]
    due_at: IsoTime
    person: Text | None = Field(None, description="The person's address (found or created).")
    priority: Literal["normal", "high"] = "normal"
    title: Text = ""
    all_day: StrictBool = False
    notes: Text = ""


class TaskPatch(Input):
    type: Literal["email", "call", "linkedin", "custom"] | None = None
    due_at: IsoTime | None = None
    person: Text | None = None
    priority: Literal["normal", "high"] | None = None
    title: Text | None = None
    all_day: StrictBool | None = None
    notes: Text | None = None
    outcome: Text | None = None
    outcome_notes: Text | None = None
    assignee: Text | None = Field(None, description="A teammate's username: reassign.")


class CompleteIn(Input):
    outcome: Literal["connected", "voicemail", "no_answer", "busy", "wrong_number", "other", ""] = (
        ""
    )
    outcome_notes: Text = ""


class SnoozeIn(Input):
    until: IsoTime


class TaskOut(Schema):
    id: int
    type: str
    priority: str
    status: str
    title: str
    due_at: dt.datetime
    all_day: bool
    person: str | None
    campaign: int | None
    step: int | None
    enrolment: int | None
    notes: str
    outcome: str
    outcome_notes: str
    reason: str
    owner: str
    assignee: str
    done_at: dt.datetime | None
    done_by: str | None
    email: int | None
    created_at: dt.datetime


class TaskEventOut(Schema):
    kind: str
    from_status: str
    to_status: str
    actor: str | None
    detail: str
    data: dict[str, Any]
    created_at: dt.datetime


class TaskDetailOut(TaskOut):
    events: list[TaskEventOut]


class TaskListOut(Schema):
    view: str
    counts: dict[str, int]
    tasks: list[TaskOut]


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


def task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.pk,
        "type": task.type,
        "priority": task.priority,
        "status": task.status,
        "title": task.title,
        "due_at": utc(task.due_at),
        "all_day": task.all_day,
        "person": task.person.email if task.person else None,
        "campaign": task.campaign_id,
        "step": task.step_id,
        "enrolment": task.enrolment_id,
        "notes": task.notes,
        "outcome": task.outcome,
        "outcome_notes": task.outcome_notes,
        "reason": task.reason,
        "owner": task.owner.username,
        "assignee": task.assignee.username,
        "done_at": utc(task.done_at),
        "done_by": task.done_by.username if task.done_by else None,
        "email": task.email_id,
        "created_at": utc(task.created_at),
    }


def task_or_404(request: HttpRequest, task_id: int, *, write: bool = False) -> Task:
    current = viewer(request)
    owners = (current.writer().pk,) if write else current.owner_ids
    task = None
    if 1 <= task_id <= MAX_ID:
        task = (
            Task.objects.exclude(status=TaskStatus.DELETED)
            .select_related("person", "owner", "assignee", "done_by")
            .filter(pk=task_id, assignee_id__in=owners)
            .first()
        )
    if task is None:
        raise HttpError(404, f"No task with id {task_id}.")
    return task


def refused(error: TaskRefused) -> HttpError:
    return HttpError(409, str(error))


def bad(error: services.TaskError) -> BadInput:
    return BadInput(error.errors)


@router.get("/tasks", response=answers({200: TaskListOut}), summary="One view of the task list")
def list_tasks(
    request: HttpRequest,
    view: str = "today",
    type: str = "",
    priority: str = "",
    campaign: int | None = None,
    sort: str = "due",
    limit: int = 100,
) -> dict[str, Any]:
    current = viewer(request)
    errors = {}
    if view not in VIEWS:
        errors["view"] = "One of " + ", ".join(VIEWS) + "."
    if type and type not in Task.Type.values:
        errors["type"] = "One of " + ", ".join(Task.Type.values) + "."
    if priority and priority not in Task.Priority.values:
        errors["priority"] = "normal or high."
    if sort not in ("due", "priority"):
        errors["sort"] = "due or priority."
    if not 1 <= limit <= MAX_LIST:
        errors["limit"] = f"From 1 to {MAX_LIST}."
    if errors:
        raise BadInput(errors)
    user = current.acting or current.user
    days = Days.at(timezone.now(), zone(user.time_zone))
    filters = Filters(type=type, priority=priority, campaign=campaign)
    tasks = view_tasks(current.owner_ids, view, days, filters=filters, sort=sort)
    tasks = tasks.select_related("owner", "assignee", "done_by")[:limit]
    return {
        "view": view,
        "counts": view_counts(current.owner_ids, days, filters),
        "tasks": [task_json(t) for t in tasks],
    }


@router.post("/tasks", response=answers({201: TaskOut}), summary="Make a task by hand")
def create_task(request: HttpRequest, payload: TaskIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    try:
        task = services.create_task(user, services.TaskFields(**payload.model_dump()))
    except services.TaskError as error:
        raise bad(error) from None
    return Reply(
        201, task_json(Task.objects.select_related("person", "owner", "assignee").get(pk=task.pk))
    )


@router.get(
    "/tasks/{task_id}",
    response=answers({200: TaskDetailOut}, 404),
    summary="One task with its events",
)
def get_task(request: HttpRequest, task_id: int) -> dict[str, Any]:
    task = task_or_404(request, task_id)
    events = [
        {
            "kind": e.kind,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "actor": e.actor.username if e.actor else None,
            "detail": e.detail,
            "data": e.data if isinstance(e.data, dict) else {},
            "created_at": utc(e.created_at),
        }
        for e in task.events.select_related("actor")
    ]
    return task_json(task) | {"events": events}


@router.patch(
    "/tasks/{task_id}", response=answers({200: TaskOut}, 404, 409), summary="Edit or reassign"
)
def patch_task(request: HttpRequest, task_id: int, payload: TaskPatch) -> dict[str, Any]:
    user = viewer(request).writer()
    task = task_or_404(request, task_id, write=True)
    changes = payload.model_dump(exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None and k != "person"]
    if nulls:
        raise BadInput(dict.fromkeys(nulls, "Must not be null; leave it out to keep it."))
    assignee_name = changes.pop("assignee", None)
    assignee = None
    if assignee_name is not None:
        assignee = User.objects.filter(username=assignee_name, is_active=True).first()
        if assignee is None or not (
            assignee.pk == user.pk or (user.team_id and assignee.team_id == user.team_id)
        ):
            raise BadInput({"assignee": "Tasks can go only to a teammate."})
    if "person" in changes and changes["person"] is None:
        changes["person"] = ""
    try:
        services.edit_task(user, task, services.TaskFields(**changes))
        if assignee is not None and assignee.pk != task.assignee_id:
            services.reassign(user, [task], assignee)
    except services.TaskError as error:
        raise bad(error) from None
    except TaskRefused as error:
        raise refused(error) from None
    return task_json(
        Task.objects.select_related("person", "owner", "assignee", "done_by").get(pk=task.pk)
    )


@router.delete(
    "/tasks/{task_id}", response=answers({204: None}, 404, 409), summary="Delete a hand-made task"
)
def delete_task(request: HttpRequest, task_id: int) -> Reply[None]:
    user = viewer(request).writer()
    try:
        services.delete(user, [task_or_404(request, task_id, write=True)])
    except TaskRefused as error:
        raise refused(error) from None
    return Reply(204, None)


def _after(task_id: int) -> dict[str, Any]:
    return task_json(
        Task.objects.select_related("person", "owner", "assignee", "done_by").get(pk=task_id)
    )


@router.post(
    "/tasks/{task_id}/complete", response=answers({200: TaskOut}, 404, 409), summary="Complete"
)
def complete_task(
    request: HttpRequest, task_id: int, payload: CompleteIn | None = None
) -> dict[str, Any]:
    user = viewer(request).writer()
    task = task_or_404(request, task_id, write=True)
    body = payload or CompleteIn()
    try:
        services.complete(user, [task], outcome=body.outcome, outcome_notes=body.outcome_notes)
    except services.TaskError as error:
        raise bad(error) from None
    except TaskRefused as error:
        raise refused(error) from None
    return _after(task.pk)


@router.post("/tasks/{task_id}/skip", response=answers({200: TaskOut}, 404, 409), summary="Skip")
def skip_task(request: HttpRequest, task_id: int) -> dict[str, Any]:
    user = viewer(request).writer()
    task = task_or_404(request, task_id, write=True)
    try:
        services.skip(user, [task])
    except TaskRefused as error:
        raise refused(error) from None
    return _after(task.pk)


@router.post(
    "/tasks/{task_id}/snooze", response=answers({200: TaskOut}, 404, 409), summary="Snooze until"
)
def snooze_task(request: HttpRequest, task_id: int, payload: SnoozeIn) -> dict[str, Any]:
    user = viewer(request).writer()
    task = task_or_404(request, task_id, write=True)
    try:
        services.snooze(user, [task], payload.until)
    except services.TaskError as error:
        raise bad(error) from None
    except TaskRefused as error:
        raise refused(error) from None
    return _after(task.pk)
