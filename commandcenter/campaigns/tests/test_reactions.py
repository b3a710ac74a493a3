"""Signals end or pause enrolments: replies, bounces, unsubscribes and complaints end them,
taking out what they had scheduled; an out-of-office reply pauses until after the return."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from commandcenter.accounts.models import User
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Campaign, Enrolment
from commandcenter.campaigns.tests.inbound import out_of_office, reply_to
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.signals.apply import apply_inbound
from commandcenter.signals.record import record_signal
from commandcenter.tasks.models import Task
from commandcenter.tracking.unsubscribe import unsubscribe

pytestmark = pytest.mark.django_db
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=NEW_YORK)


def two_emails_and_a_call(owner: User) -> Campaign:
    return create_campaign(
        owner,
        name="Follow-ups",
        steps=[
            StepSpec(day=1, type="auto_email", time=dt.time(9), subject="Hi", body_text="Hello"),
            StepSpec(day=2, type="call", time=dt.time(9)),
            StepSpec(day=3, type="auto_email", time=dt.time(9), thread=True, body_text="Again"),
        ],
    )


def sent_first_email(owner: User, sink: SmtpSink) -> tuple[Enrolment, Email]:
    Person.objects.create(
        owner=owner, email="pat@acme.example", first_name="Pat", time_zone="America/New_York"
    )
    campaign = two_emails_and_a_call(owner)
    enrolment = enrol(owner, campaign, ["pat@acme.example"]).enrolled[0]
    Engine().run_once()
    Sender().drain()
    email = Email.objects.get(enrolment=enrolment)
    assert email.status == Status.DELIVERED
    return enrolment, email


def test_a_human_reply_ends_the_campaign_and_takes_out_what_it_scheduled(
    alice: User, sink: SmtpSink
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        enrolment, email = sent_first_email(alice, sink)
        Engine().run_once()  # on to the call, tomorrow
        Enrolment.objects.filter(pk=enrolment.pk).update(next_at=MONDAY)
        Engine().run_once()
        call = Task.objects.get(enrolment=enrolment)
        apply_inbound(reply_to(email), source="test")
    enrolment.refresh_from_db()
    call.refresh_from_db()
    assert (enrolment.state, enrolment.exit_reason) == ("exited", "replied")
    assert enrolment.reason == "campaign ended: Pat replied on 2 Mar"
    assert (call.status, call.reason) == ("skipped", enrolment.reason)
    # The same reply ingested twice changes nothing more.
    apply_inbound(reply_to(email), source="test")
    assert enrolment.events.filter(kind="exited").count() == 1


def test_our_own_threaded_follow_up_found_in_a_mailbox_is_not_a_reply(
    alice: User, sink: SmtpSink
) -> None:
    """warmbly #549: the tool's own follow-up, synced from the Sent folder, ended sequences."""
    with time_machine.travel(MONDAY, tick=False):
        enrolment, email = sent_first_email(alice, sink)
        own_copy = reply_to(email, sender=alice.email, message_id="<copy@ours.example>")
        apply_inbound(own_copy, source="imap")
        # A copy of one of our own sent emails (its Message-ID is ours) is not one either.
        copy_of_sent = reply_to(email, sender="someone@else.example", message_id=email.message_id)
        apply_inbound(copy_of_sent, source="imap")
    enrolment.refresh_from_db()
    assert enrolment.state == "active"


def test_an_out_of_office_reply_pauses_until_the_day_after_the_return(
    alice: User, sink: SmtpSink
) -> None:
    with time_machine.travel(MONDAY, tick=False) as traveller:
        enrolment, email = sent_first_email(alice, sink)
        apply_inbound(out_of_office(email, "Monday, March 16, 2026"), source="test")
        enrolment.refresh_from_db()
        assert enrolment.state == "paused"
        assert enrolment.paused_until == dt.datetime(2026, 3, 17, tzinfo=NEW_YORK)
        assert "out of office" in enrolment.reason
        traveller.move_to(dt.datetime(2026, 3, 10, tzinfo=NEW_YORK))
        Engine().run_once()
        enrolment.refresh_from_db()
        assert enrolment.state == "paused"
        traveller.move_to(dt.datetime(2026, 3, 17, 0, 1, tzinfo=NEW_YORK))
        Engine().run_once()
        enrolment.refresh_from_db()
        assert enrolment.state == "active"


@pytest.mark.parametrize(
    ("signal", "exit_reason", "words"),
    [
        ("bounced", "bounced", "bounced on"),
        ("complained", "spam", "marked an email as spam"),
        ("unsubscribed", "unsubscribed", "unsubscribed on"),
    ],
)
def test_bounces_complaints_and_unsubscribes_end_it(
    alice: User, sink: SmtpSink, signal: str, exit_reason: str, words: str
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        enrolment, email = sent_first_email(alice, sink)
        if signal == "unsubscribed":
            unsubscribe(email, via="page")
        else:
            target = Status.BOUNCED if signal == "bounced" else Status.SPAM
            record_signal(email, signal, target=target, detail="550 no such user")
    enrolment.refresh_from_db()
    assert (enrolment.state, enrolment.exit_reason) == ("exited", exit_reason)
    assert words in enrolment.reason


def test_an_absence_with_no_return_date_pauses_for_the_owners_setting(
    alice: User, sink: SmtpSink
) -> None:
    from commandcenter.campaigns.models import SendingPolicy

    SendingPolicy.objects.create(user=alice, days=list(range(7)), start_time=dt.time(0),
                                 end_time=dt.time(23, 59), ooo_pause_days=3)  # fmt: skip
    with time_machine.travel(MONDAY, tick=False):
        enrolment, email = sent_first_email(alice, sink)
        vague = out_of_office(email).replace(b"until Monday, March 16, 2026", b"for a while")
        apply_inbound(vague, source="test")
    enrolment.refresh_from_db()
    assert enrolment.state == "paused"
    assert enrolment.paused_until == MONDAY + dt.timedelta(days=3)
