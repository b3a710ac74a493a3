"""One prospect's history, newest first: their emails and each email's events, their tasks
and each task's events, their campaign enrolments and each one's events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from commandcenter.campaigns.models import EnrolmentEvent
from commandcenter.outbox.merge import MissingMergeField, render
from commandcenter.outbox.models import Email, Event
from commandcenter.people.models import Person
from commandcenter.tasks.models import TaskEvent

MAX_ENTRIES = 500
# What happened, in words; other kinds are shown as they are recorded.
KIND_LABELS: dict[str, Promise] = {
    "created": _("created"),
    "scheduled": _("scheduled"),
    "claimed": _("being sent"),
    "sent": _("sent"),
    "deferred": _("deferred"),
    "failed": _("failed"),
    "bounced": _("bounced"),
    "complained": _("marked as spam"),
    "opened": _("opened"),
    "clicked": _("clicked"),
    "replied": _("replied"),
    "auto_replied": _("auto-replied"),
    "unsubscribed": _("unsubscribed"),
    "held": _("held back"),
    "campaign_ended": _("taken out: campaign ended"),
    "completed": _("completed"),
    "skipped": _("skipped"),
    "snoozed": _("snoozed"),
    "reassigned": _("reassigned"),
    "edited": _("edited"),
    "deleted": _("deleted"),
    "enrolled": _("enrolled"),
    "step_ran": _("step ran"),
    "next_step": _("next step planned"),
    "paused": _("paused"),
    "resumed": _("resumed"),
    "finished": _("finished"),
    "exited": _("exited"),
}


def as_received(email: Email) -> str:
    """The subject the person got (merge fields filled); the template when it cannot be."""
    try:
        return render(email.subject, email.person, email.owner)
    except MissingMergeField:
        return email.subject


SOURCE_LABELS: dict[str, Promise] = {
    "email": _("Email"),
    "task": _("Task"),
    "campaign": _("Campaign"),
}


@dataclass
class Entry:
    at: dt.datetime
    kind: str  # email, task, campaign
    what: str
    detail: str
    link_kind: str
    link_id: int

    @property
    def source(self) -> str:
        return str(SOURCE_LABELS[self.kind])


def person_timeline(person: Person) -> list[Entry]:
    entries = email_entries(person) + task_entries(person) + campaign_entries(person)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:MAX_ENTRIES]


def what(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def email_entries(person: Person) -> list[Entry]:
    subjects: dict[int, str] = {}
    entries = []
    for event in (
        Event.objects.filter(email__person=person)
        .select_related("email__person", "email__owner")
        .order_by("-created_at", "-id")[:MAX_ENTRIES]
    ):
        if event.email_id not in subjects:
            subjects[event.email_id] = as_received(event.email)
        detail = f"{subjects[event.email_id]} {('— ' + event.detail) if event.detail else ''}"
        entries.append(
            Entry(
                event.created_at, "email", what(event.kind), detail.strip(), "email", event.email_id
            )
        )
    return entries


def task_entries(person: Person) -> list[Entry]:
    entries = []
    for event in (
        TaskEvent.objects.filter(task__person=person)
        .select_related("task")
        .order_by("-created_at", "-id")[:MAX_ENTRIES]
    ):
        task = event.task
        detail = f"{task.get_type_display()}: {task.title} {event.detail}".strip()
        entries.append(Entry(event.created_at, "task", what(event.kind), detail, "task", task.pk))
    return entries


def campaign_entries(person: Person) -> list[Entry]:
    entries = []
    for event in (
        EnrolmentEvent.objects.filter(enrolment__person=person)
        .select_related("enrolment__campaign")
        .order_by("-created_at", "-id")[:MAX_ENTRIES]
    ):
        campaign = event.enrolment.campaign
        detail = f"{campaign.name} {event.detail}".strip()
        entries.append(
            Entry(event.created_at, "campaign", what(event.kind), detail, "campaign", campaign.pk)
        )
    return entries
