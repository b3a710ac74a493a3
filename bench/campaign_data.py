"""Synthetic data for the campaigns bench: a rep, N people, a two-step campaign with N active
enrolments of which some are due now, and open tasks spread over the task views.

Written with bulk inserts (not the demo data, not domain code): the bench measures the
engine and the pages, not how the data got there.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.models import Campaign, Enrolment
from commandcenter.campaigns.states import State
from commandcenter.people.models import Person
from commandcenter.tasks.models import Task

CHUNK = 5000


def rep(name: str) -> User:
    return create_user(name, email=f"{name}@sales.example", password=f"{name}-bench-password")


def people(owner: User, count: int, *, prefix: str) -> list[Person]:
    for start in range(0, count, CHUNK):
        Person.objects.bulk_create(
            [
                Person(
                    owner=owner,
                    email=f"{prefix}{n}@prospect{n % 97}.example",
                    first_name=f"First{n}",
                    last_name=f"Last{n}",
                    company=f"Company {n % 500}",
                    time_zone=("America/New_York", "Europe/Paris", "Asia/Kolkata", "")[n % 4],
                )
                for n in range(start, min(count, start + CHUNK))
            ]
        )
    return list(Person.objects.filter(owner=owner, email__startswith=prefix).order_by("pk"))


def campaign(owner: User) -> Campaign:
    return create_campaign(
        owner,
        name="Bench outreach",
        steps=[
            StepSpec(
                day=1,
                type="auto_email",
                subject="Hello {{first_name}}",
                body_text="Hi {{first_name}}, a question about {{company}}.",
            ),
            StepSpec(day=3, type="call"),
        ],
    )


def enrolments(target: Campaign, members: list[Person], *, due: int) -> None:
    """Every person active in the campaign on step 1: the first `due` due a minute ago, the
    others tomorrow."""
    now = timezone.now()
    first = target.steps.order_by("position").first()
    for start in range(0, len(members), CHUNK):
        Enrolment.objects.bulk_create(
            [
                Enrolment(
                    campaign=target,
                    person=person,
                    owner_id=target.owner_id,
                    state=State.ACTIVE,
                    started_on=now.date(),
                    zone=person.time_zone or "UTC",
                    enrolled_at=now,
                    variant_seed=index,
                    next_step=first,
                    phase=Enrolment.Phase.DUE,
                    next_at=now - dt.timedelta(minutes=1)
                    if index < due
                    else now + dt.timedelta(days=1),
                )
                for index, person in enumerate(members[start : start + CHUNK], start=start)
            ]
        )


def open_tasks(owner: User, members: list[Person], count: int) -> None:
    """`count` open tasks over the views: overdue, today, tomorrow and upcoming."""
    now = timezone.now()
    offsets = (
        dt.timedelta(days=-3),
        dt.timedelta(hours=1),
        dt.timedelta(days=1),
        dt.timedelta(days=6),
    )
    for start in range(0, count, CHUNK):
        Task.objects.bulk_create(
            [
                Task(
                    owner=owner,
                    assignee=owner,
                    person=members[n % len(members)],
                    type=("call", "email", "linkedin", "custom")[n % 4],
                    priority="high" if n % 7 == 0 else "normal",
                    title=f"Task {n}",
                    due_at=now + offsets[n % 4] + dt.timedelta(minutes=n % 600),
                )
                for n in range(start, min(count, start + CHUNK))
            ]
        )
