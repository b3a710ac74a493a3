"""The demo user's tasks and campaign, for `make run` (demo data, not domain code): a few
hand-made tasks in every view, and a three-step campaign some of their people are in."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Campaign
from commandcenter.people.models import Person
from commandcenter.tasks import services

# (type, priority, title, due in hours from now, done?)
TASKS = [
    ("call", "high", "Call back about the pilot", -30, False),
    ("call", "normal", "Discovery call", 2, False),
    ("linkedin", "normal", "Connect on LinkedIn", 26, False),
    ("custom", "normal", "Send the security questionnaire", 100, False),
    ("email", "normal", "Send the pricing sheet", 3, False),
    ("call", "normal", "Intro call", -50, True),
]


def seed_demo_tasks_and_campaign(demo: User) -> int:
    """Create them once; how many tasks and enrolments were made (0 when already there)."""
    if Campaign.objects.filter(owner=demo).exists():
        return 0
    people = list(Person.objects.filter(owner=demo).order_by("pk")[:12])
    if not people:
        return 0
    with transaction.atomic():
        made = _tasks(demo, people)
        campaign = create_campaign(
            demo,
            name="Q1 outreach",
            skip_weekends=True,
            steps=[
                StepSpec(
                    day=1,
                    type="auto_email",
                    time=dt.time(9, 0),
                    subject="Quick question, {{first_name}}",
                    body_text="Hi {{first_name}},\n\nhow does {{company}} handle outreach today?"
                    "\n\n{{my_signature}}",
                ),
                StepSpec(day=3, type="call", time=dt.time(10, 0), notes="Ask about the pilot."),
                StepSpec(
                    day=5,
                    type="auto_email",
                    time=dt.time(9, 0),
                    thread=True,
                    body_text="Following up on my note, {{first_name}}.\n\n{{my_signature}}",
                ),
            ],
        )
        made += len(enrol(demo, campaign, [p.email for p in people[6:12]]).enrolled)
    return made


def _tasks(demo: User, people: list[Person]) -> int:
    now = timezone.now()
    for index, (kind, priority, title, hours, done) in enumerate(TASKS):
        task = services.create_task(
            demo,
            services.TaskFields(
                type=kind,
                priority=priority,
                title=title,
                due_at=now + dt.timedelta(hours=hours),
                person=people[index % len(people)].email,
            ),
        )
        if done:
            services.complete(demo, [task], outcome="connected", outcome_notes="Good fit.")
    return len(TASKS)
