"""The engine end to end: steps on their campaign days in the recipient's zone, emails through
the real sender to a loopback SMTP server, tasks, threading, finishing."""

from __future__ import annotations

import datetime as dt
import email as email_lib
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Enrolment
from commandcenter.campaigns.queries import campaign_stats
from commandcenter.campaigns.tests.conftest import three_steps
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.tasks.models import Task
from commandcenter.tasks.services import complete

pytestmark = pytest.mark.django_db
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def at(text: str, where: zoneinfo.ZoneInfo = NEW_YORK) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=where)


def person(owner: User, address: str, first: str = "Pat", zone: str = "") -> Person:
    return Person.objects.create(
        owner=owner, email=address, first_name=first, company="Acme", time_zone=zone
    )


def test_it_runs_a_three_step_campaign_on_its_days(alice: User, sink: SmtpSink) -> None:
    alice.time_zone = "America/New_York"
    alice.save()
    person(alice, "pat@acme.example")
    # Monday 2 March 2026, 08:00 in New York.
    with time_machine.travel(at("2026-03-02T08:00"), tick=False) as traveller:
        campaign = three_steps(alice)
        result = enrol(alice, campaign, ["pat@acme.example"])
        enrolment = result.enrolled[0]
        assert Engine().run_once() == 0, "day 1's 09:00 has not come yet"
        traveller.move_to(at("2026-03-02T09:00"))
        assert Engine().run_once() == 1
        first = Email.objects.get(enrolment=enrolment)
        assert (first.campaign_id, first.step_id) == (
            campaign.pk,
            campaign.steps.get(position=0).pk,
        )
        assert first.due_at == at("2026-03-02T09:00")
        assert Sender().drain() == 1
        assert len(sink.messages) == 1
        assert Engine().run_once() == 1  # advanced to the call
        enrolment.refresh_from_db()
        assert enrolment.next_at == at("2026-03-04T10:00"), "day 3 of a five-day week: Wednesday"
        traveller.move_to(at("2026-03-04T10:00"))
        Engine().run_once()
        call = Task.objects.get(enrolment=enrolment)
        assert (call.type, call.due_at, call.status) == ("call", at("2026-03-04T10:00"), "open")
        assert Engine().run_once() == 0, "the next step waits for the call"
        complete(alice, [call], outcome="connected")
        Engine().run_once()
        enrolment.refresh_from_db()
        assert enrolment.next_at == at("2026-03-06T09:00"), "day 5: Friday"
        traveller.move_to(at("2026-03-06T09:00"))
        Engine().run_once()
        Sender().drain()
    assert len(sink.messages) == 2
    follow_up = email_lib.message_from_bytes(sink.messages[1].raw)
    first.refresh_from_db()
    assert follow_up["Subject"] == "Re: Hello Pat"
    assert follow_up["In-Reply-To"] == first.message_id
    assert follow_up["References"] == first.message_id
    Engine().run_once()
    enrolment.refresh_from_db()
    assert enrolment.state == "finished"
    stats = campaign_stats(campaign)
    assert (stats["enrolled"], stats["finished"], stats["is_finished"], stats["sent"]) == (
        1,
        1,
        True,
        2,
    )


def test_it_skips_weekends_from_a_saturday_enrolment(alice: User) -> None:
    person(alice, "sam@acme.example", zone="Europe/Paris")
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    with time_machine.travel(at("2026-03-07T12:00", paris), tick=False):
        campaign = three_steps(alice)
        enrolment = enrol(alice, campaign, ["sam@acme.example"]).enrolled[0]
    assert enrolment.started_on == dt.date(2026, 3, 9), "day 1 is the Monday"
    assert enrolment.next_at == at("2026-03-09T09:00", paris)


def test_a_step_that_fell_due_while_the_worker_was_down_follows_the_late_limit(
    alice: User, sink: SmtpSink, settings
) -> None:
    settings.SEND_LATE_LIMIT_SECONDS = 3600
    person(alice, "pat@acme.example", zone="America/New_York")
    with time_machine.travel(at("2026-03-02T08:00"), tick=False) as traveller:
        campaign = three_steps(alice)
        enrol(alice, campaign, ["pat@acme.example"])
        traveller.move_to(at("2026-03-02T15:00"))  # six hours late
        Engine().run_once()
        Sender().drain()
    email = Email.objects.get(campaign=campaign)
    assert email.status == Status.FAILED
    assert "missed its send time" in email.reason
    assert sink.messages == []


def test_ab_variants_are_given_evenly_and_deterministically(alice: User) -> None:
    from commandcenter.campaigns.builder import StepSpec, VariantSpec, create_campaign

    campaign = create_campaign(
        alice,
        name="A/B",
        steps=[
            StepSpec(
                day=1,
                type="auto_email",
                variants=[
                    VariantSpec("A {{first_name}}", "a"),
                    VariantSpec("B {{first_name}}", "b"),
                ],
            )
        ],
    )
    addresses = [f"p{n}@x.example" for n in range(10)]
    enrol(alice, campaign, addresses)
    Engine().run_once()
    subjects = sorted(Email.objects.filter(campaign=campaign).values_list("subject", flat=True))
    assert subjects.count("A {{first_name}}") == 5 and subjects.count("B {{first_name}}") == 5
    by_seed = {
        e.enrolment.variant_seed: e.variant.index  # type: ignore[union-attr]
        for e in Email.objects.filter(campaign=campaign).select_related("enrolment", "variant")
    }
    assert all(index == seed % 2 for seed, index in by_seed.items())
    stats = campaign_stats(campaign)
    assert [v["letter"] for v in stats["steps"][0]["variants"]] == ["A", "B"]


def test_enrolling_refuses_blocked_people_and_takes_the_others(alice: User) -> None:
    person(alice, "dnc@x.example").__class__.objects.filter(email="dnc@x.example").update(
        do_not_contact=True
    )
    campaign = three_steps(alice)
    enrol(alice, campaign, ["twice@x.example"])
    result = enrol(alice, campaign, ["dnc@x.example", "twice@x.example", "new@x.example"])
    assert [e.person.email for e in result.enrolled] == ["new@x.example"]
    assert {r.address: r.reason for r in result.refused} == {
        "dnc@x.example": "Recipient is marked do-not-contact.",
        "twice@x.example": "Already in this campaign.",
    }
    assert Enrolment.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_a_person_whose_field_would_be_empty_gets_a_failed_email_and_the_rest_go_on(
    alice: User,
) -> None:
    from commandcenter.campaigns.builder import StepSpec, create_campaign

    campaign = create_campaign(
        alice,
        name="Fields",
        steps=[StepSpec(day=1, type="auto_email", subject="Hi {{first_name}}", body_text="x")],
    )
    Person.objects.create(owner=alice, email="named@x.example", first_name="Nora")
    Person.objects.create(owner=alice, email="blank@x.example")
    enrol(alice, campaign, ["named@x.example", "blank@x.example"])
    Enrolment.objects.update(next_at=timezone.now())

    Engine().run_once()

    named = Email.objects.get(to_address="named@x.example")
    blank = Email.objects.get(to_address="blank@x.example")
    assert (named.status, named.subject) == (Status.SCHEDULED, "Hi Nora")
    assert blank.status == Status.FAILED
    assert "{{first_name}}" in blank.reason and "blank@x.example" in blank.reason
    assert blank.template_subject == "Hi {{first_name}}"
