"""A step is done when its email went out or its task was done (campaigns/progress.py): the
sender and the task services mark it, and the engine moves on only the enrolments marked."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns import progress
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Campaign, Enrolment
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.tasks import services
from commandcenter.tasks.models import Task

pytestmark = pytest.mark.django_db


def call_then_email(owner: User) -> Campaign:
    return create_campaign(
        owner,
        name="Calls first",
        skip_weekends=False,
        steps=[
            StepSpec(day=1, type="call"),
            StepSpec(day=1, type="auto_email", subject="Hi {{first_name | there}}", body_text="x"),
        ],
    )


def test_only_a_step_marked_done_moves_its_enrolment_on(alice: User) -> None:
    campaign = call_then_email(alice)
    enrol(alice, campaign, ["a@x.example", "b@x.example"])
    Engine().run_once()
    tasks = {t.person.email: t for t in Task.objects.select_related("person") if t.person}
    assert set(Enrolment.objects.values_list("phase", flat=True)) == {"waiting"}

    services.complete(alice, [tasks["a@x.example"]])

    phases = dict(Enrolment.objects.values_list("person__email", "phase"))
    assert phases == {"a@x.example": "done", "b@x.example": "waiting"}
    Engine().run_once()
    assert Email.objects.get().to_address == "a@x.example"
    assert not Enrolment.objects.filter(phase="done").exists()


def test_a_task_done_outside_a_campaign_or_twice_marks_nothing(alice: User) -> None:
    campaign = call_then_email(alice)
    enrol(alice, campaign, ["a@x.example"])
    Engine().run_once()
    task = Task.objects.get()
    services.skip(alice, [task])
    enrolment = Enrolment.objects.get()
    assert enrolment.phase == "done"
    done_at = enrolment.next_at

    Engine().run_once()  # the email step runs: the enrolment waits on it now
    enrolment.refresh_from_db()
    last = campaign.steps.order_by("position").last()
    assert last is not None
    assert (enrolment.phase, enrolment.next_step_id) == ("waiting", last.pk)
    assert progress.tasks_done([task.pk]) == 0, "the call step is behind it"
    assert done_at is not None


def test_the_migration_marks_steps_done_before_the_upgrade(alice: User) -> None:
    """Enrolments that waited on a sent email or a done task when the release came."""
    campaign = call_then_email(alice)
    enrol(alice, campaign, ["a@x.example", "b@x.example"])
    Engine().run_once()
    done_at = timezone.now() - dt.timedelta(hours=3)
    # As the release before this one left them: the task done, the enrolment "waiting".
    Task.objects.filter(person__email="a@x.example").update(status="completed", done_at=done_at)
    migration = importlib.import_module("commandcenter.campaigns.migrations.0002_step_done_phase")

    migration.mark_done_steps(apps, None)

    a, b = (Enrolment.objects.get(person__email=who) for who in ("a@x.example", "b@x.example"))
    assert (a.phase, a.next_at) == ("done", done_at)
    assert b.phase == "waiting"


def test_an_email_handed_to_the_server_marks_its_step_done(alice: User, sink: SmtpSink) -> None:
    campaign = create_campaign(
        alice,
        name="Email then call",
        skip_weekends=False,
        steps=[
            StepSpec(day=1, type="auto_email", subject="Hi", body_text="x"),
            StepSpec(day=1, type="call"),
        ],
    )
    enrol(alice, campaign, ["a@x.example"])
    Engine().run_once()
    assert Enrolment.objects.get().phase == "waiting"

    Sender().drain()

    assert Email.objects.get().status == Status.DELIVERED
    assert len(sink.received) == 1
    assert Enrolment.objects.get().phase == "done"
    Engine().run_once()
    assert Task.objects.get().type == "call"
