"""Real worker processes running the engine and the sender, SIGKILLed at several instants and
restarted: no step runs twice, none is skipped, no task is made twice."""

from __future__ import annotations

import collections
import functools
import signal
import subprocess

import pytest

from commandcenter.accounts.models import User
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Enrolment
from commandcenter.delivery.testing import SmtpSink, subprocess_env
from commandcenter.delivery.tests.test_crash import COMMANDCENTER, wait_for
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)
PEOPLE = 30


def test_killed_workers_run_each_step_once(alice: User) -> None:
    campaign = create_campaign(
        alice,
        name="Same day",
        steps=[
            StepSpec(day=1, type="auto_email", subject="One {{first_name | there}}", body_text="1"),
            StepSpec(day=1, type="auto_email", subject="Two", body_text="2", thread=True),
            StepSpec(day=1, type="auto_email", subject="Three", body_text="3", thread=True),
            StepSpec(day=1, type="call"),
        ],
    )
    enrol(alice, campaign, [f"p{n}@x.example" for n in range(PEOPLE)])
    steps = list(campaign.steps.order_by("position"))
    with SmtpSink(delay=0.01) as sink:
        env = subprocess_env(
            EMAIL_URL=f"{sink.url}?timeout=2",
            SEND_BATCH_SIZE=4,
            CAMPAIGN_BATCH_SIZE=3,
            IN_PROGRESS_LEASE_SECONDS=2,
        )
        for emails_before_kill in (5, 30, 55):
            worker = subprocess.Popen([COMMANDCENTER, "worker"], env=env, stdout=subprocess.DEVNULL)
            try:
                wait_for(
                    functools.partial(emails_at_least, emails_before_kill),
                    seconds=60,
                    what=f"{emails_before_kill} campaign emails",
                )
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait()
        last = subprocess.Popen([COMMANDCENTER, "worker"], env=env, stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: settled(steps[-1].pk), seconds=120, what="every enrolment to settle")
        finally:
            last.send_signal(signal.SIGTERM)
            last.wait(timeout=30)
        received = list(sink.messages)

    by_message = collections.Counter(m.message_id for m in received)
    assert [mid for mid, n in by_message.items() if n > 1] == []
    per_step = collections.Counter(Email.objects.values_list("enrolment_id", "step_id"))
    assert set(per_step.values()) == {1}
    assert collections.Counter(Task.objects.values_list("enrolment_id", flat=True)) == {
        e: 1 for e in Task.objects.values_list("enrolment_id", flat=True)
    }
    for enrolment in Enrolment.objects.all():
        emails = list(Email.objects.filter(enrolment=enrolment).order_by("step__position"))
        delivered = [e for e in emails if e.status == Status.DELIVERED]
        # None skipped: every step up to where it stands was made, in order.
        assert [e.step_id for e in emails] == [s.pk for s in steps[: len(emails)]]
        if enrolment.next_step_id == steps[-1].pk:
            assert len(delivered) == 3
            assert Task.objects.filter(enrolment=enrolment).count() == 1
        else:
            # Stopped only where the sender could not know whether its email went out.
            assert emails[-1].status == Status.FAILED
            assert emails[-1].reason.startswith("delivery unknown")


def emails_at_least(count: int) -> bool:
    return Email.objects.count() >= count


def settled(last_step_id: int) -> bool:
    """Every enrolment waits on its call, or on an email whose delivery is unknown."""
    if Email.objects.filter(status__in=[Status.SCHEDULED, Status.IN_PROGRESS]).exists():
        return False
    on_call = Enrolment.objects.filter(next_step_id=last_step_id, phase="waiting").count()
    stuck = Enrolment.objects.filter(
        phase="waiting",
        pk__in=Email.objects.filter(status=Status.FAILED).values("enrolment_id"),
    ).exclude(next_step_id=last_step_id)
    return on_call + stuck.count() == PEOPLE
