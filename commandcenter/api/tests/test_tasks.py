"""The tasks API: views with counts, make, edit, complete, skip, snooze, delete; errors."""

from __future__ import annotations

import datetime as dt

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api
from commandcenter.tasks.models import Task

TASK_FIELDS = {
    "id", "type", "priority", "status", "title", "due_at", "all_day", "person", "campaign",
    "step", "enrolment", "notes", "outcome", "outcome_notes", "reason", "owner", "assignee",
    "done_at", "done_by", "email", "created_at",
}  # fmt: skip


def soon(hours: int = 1) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


def test_it_makes_lists_and_completes_a_call(api: Api, alice: User) -> None:
    made = api.post("/tasks", alice, {"type": "call", "due_at": soon(), "person": "Pat@X.example"})
    assert made.status_code == 201, made.data
    assert set(made.data) == TASK_FIELDS
    assert made.data["person"] == "pat@x.example"
    assert made.data["due_at"].endswith("Z")
    listed = api.get("/tasks?view=upcoming", alice).data
    today = api.get("/tasks?view=today", alice).data
    assert listed["counts"] == today["counts"]
    assert sum(listed["counts"].values()) == 1
    task_id = made.data["id"]
    done = api.post(f"/tasks/{task_id}/complete", alice, {"outcome": "connected"})
    assert (done.status_code, done.data["status"], done.data["outcome"]) == (
        200, "completed", "connected"
    )  # fmt: skip
    assert api.post(f"/tasks/{task_id}/skip", alice).status_code == 409
    detail = api.get(f"/tasks/{task_id}", alice).data
    assert [e["kind"] for e in detail["events"]] == ["created", "completed"]
    assert api.get("/tasks?view=completed", alice).data["counts"]["completed"] == 1


def test_snooze_edit_and_delete(api: Api, alice: User) -> None:
    task_id = api.post("/tasks", alice, {"type": "custom", "due_at": soon()}).data["id"]
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    snoozed = api.post(f"/tasks/{task_id}/snooze", alice, {"until": until.isoformat()})
    assert snoozed.data["due_at"] == until.isoformat().replace("+00:00", "Z")
    edited = api.patch(f"/tasks/{task_id}", alice, {"priority": "high", "notes": "bring slides"})
    assert (edited.data["priority"], edited.data["notes"]) == ("high", "bring slides")
    assert api.delete(f"/tasks/{task_id}", alice).status_code == 204
    assert api.get(f"/tasks/{task_id}", alice).status_code == 404


def test_bad_input_is_422_per_field_and_changes_nothing(api: Api, alice: User) -> None:
    answer = api.post("/tasks", alice, {"type": "fax", "due_at": "tomorrow", "priority": "urgent"})
    assert answer.status_code == 422
    assert set(answer.data["errors"]) == {"type", "due_at", "priority"}
    assert api.get("/tasks?view=someday", alice).data["errors"] == {
        "view": "One of overdue, today, tomorrow, upcoming, completed, skipped."
    }
    task_id = api.post("/tasks", alice, {"type": "call", "due_at": soon()}).data["id"]
    past = api.post(f"/tasks/{task_id}/snooze", alice, {"until": "2001-01-01T00:00:00Z"})
    assert (past.status_code, list(past.data["errors"])) == (422, ["until"])
    assert Task.objects.count() == 1


def test_another_users_task_is_not_found(api: Api, alice: User, bob: User) -> None:
    task_id = api.post("/tasks", alice, {"type": "call", "due_at": soon()}).data["id"]
    for call in (
        lambda: api.get(f"/tasks/{task_id}", bob),
        lambda: api.post(f"/tasks/{task_id}/complete", bob),
        lambda: api.patch(f"/tasks/{task_id}", bob, {"notes": "mine now"}),
        lambda: api.delete(f"/tasks/{task_id}", bob),
    ):
        assert call().status_code == 404
    assert sum(api.get("/tasks?view=today", bob).data["counts"].values()) == 0
    assert Task.objects.get(pk=task_id).status == "open"
