"""One prospect's history, newest first: their emails and each email's events, their tasks
and each task's events, their campaign enrolments and each one's events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from commandcenter.campaigns.models import EnrolmentEvent
from commandcenter.outbox.models import Event
from commandcenter.people.models import Person
from commandcenter.tasks.models import TaskEvent

MAX_ENTRIES = 500


@dataclass
class Entry:
    at: dt.datetime
    kind: str  # email, task, campaign
    what: str
    detail: str
    link_kind: str
    link_id: int


def person_timeline(person: Person) -> list[Entry]:
    entries: list[Entry] = []
    for event in (
        Event.objects.filter(email__person=person)
        .select_related("email")
        .order_by("-created_at", "-id")[:MAX_ENTRIES]
    ):
        entries.append(
            Entry(
                event.created_at,
                "email",
                event.kind,
                f"{event.email.subject} {('— ' + event.detail) if event.detail else ''}".strip(),
                "email",
                event.email_id,
            )
        )
    for task_event in (
        TaskEvent.objects.filter(task__person=person)
        .select_related("task")
        .order_by("-created_at", "-id")[:MAX_ENTRIES]
    ):
        task = task_event.task
        entries.append(
            Entry(
                task_event.created_at,
                "task",
                task_event.kind,
                f"{task.get_type_display()}: {task.title} {task_event.detail}".strip(),
                "task",
                task.pk,
            )
        )
    for enrolment_event in (
        EnrolmentEvent.objects.filter(enrolment__person=person)
        .select_related("enrolment__campaign")
        .order_by("-created_at", "-id")[:MAX_ENTRIES]
    ):
        campaign = enrolment_event.enrolment.campaign
        entries.append(
            Entry(
                enrolment_event.created_at,
                "campaign",
                enrolment_event.kind,
                f"{campaign.name} {enrolment_event.detail}".strip(),
                "campaign",
                campaign.pk,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:MAX_ENTRIES]
