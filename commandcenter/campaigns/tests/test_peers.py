"""Other products' real failures, each reproduced: none of them may happen here."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import zoneinfo

import pytest
import time_machine
from django.db import DatabaseError, connection

from commandcenter.accounts.models import User
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import Campaign, Enrolment, SendingPolicy
from commandcenter.campaigns.tests.conftest import send_through
from commandcenter.campaigns.throttle import admit, next_open
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import Fault, SmtpSink
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def one_email(owner: User, **options: object) -> Campaign:
    return create_campaign(
        owner,
        name="One email",
        steps=[
            StepSpec(
                day=1, type="auto_email", subject="Hi {{first_name | there}}", body_text="Hello"
            ),
            StepSpec(day=2, type="call"),
        ],
        **options,  # type: ignore[arg-type]
    )


def whole_week(owner: User, **fields: object) -> SendingPolicy:
    values = {"days": list(range(7)), "start_time": dt.time(0, 0), "end_time": dt.time(23, 59)}
    values.update(fields)
    return SendingPolicy.objects.create(user=owner, **values)


@pytest.mark.django_db(transaction=True)
def test_two_engines_on_the_same_due_steps_make_one_email_each(alice: User) -> None:
    """Mautic #1737: two cron runs picked up the same event and sent it twice."""
    campaign = one_email(alice)
    enrol(alice, campaign, [f"p{n}@x.example" for n in range(300)])
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            Engine(name, batch_size=50).drain()
        except DatabaseError as error:  # e.g. a lock conflict: the test below reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"engine-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    per_enrolment = collections.Counter(
        Email.objects.filter(campaign=campaign).values_list("enrolment_id", flat=True)
    )
    assert len(per_enrolment) == 300
    assert set(per_enrolment.values()) == {1}
    assert Enrolment.objects.filter(campaign=campaign, phase="waiting").count() == 300


@pytest.mark.django_db
def test_one_failed_send_in_a_batch_resends_nothing_else(alice: User) -> None:
    """Mautic #7226: one failure in a batch made the whole batch go again."""
    campaign = one_email(alice)
    addresses = [f"p{n}@x.example" for n in range(5)]
    enrol(alice, campaign, addresses)
    rejected = Fault("RCPT", "550 5.1.1 no such user", addresses=["p2@x.example"])
    with SmtpSink([rejected]) as sink:
        _use(sink)
        for _ in range(3):
            Engine().run_once()
            Sender().drain()
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
        "p0@x.example", "p1@x.example", "p3@x.example", "p4@x.example"
    ]  # fmt: skip
    assert Email.objects.filter(campaign=campaign).count() == 5
    failed = Email.objects.get(to_address="p2@x.example")
    assert failed.status == Status.FAILED and "550" in failed.reason
    # The others went on to their call; the failed one waits (Retry Send goes on with it).
    on_call = Enrolment.objects.filter(campaign=campaign, next_step__position=1).count()
    assert on_call == 4


def _use(sink: SmtpSink) -> None:
    from django.conf import settings

    send_through(settings, sink.port)


@pytest.mark.django_db
def test_the_daily_cap_counts_sends_not_deferrals(alice: User, settings) -> None:
    """warmbly #306: deferred (4xx) attempts used up the daily limit."""
    settings.SEND_RETRY_BASE_SECONDS = 60
    alice.time_zone = "America/New_York"
    alice.save()
    whole_week(alice, daily_cap=3)
    greylisted = Fault("RCPT", "451 4.7.1 try later", addresses=["p0@x.example", "p1@x.example"],
                       times=2)  # fmt: skip
    start = dt.datetime(2026, 3, 3, 10, 0, tzinfo=NEW_YORK)
    with SmtpSink([greylisted]) as sink, time_machine.travel(start, tick=False) as traveller:
        _use(sink)
        campaign = one_email(alice)
        enrol(alice, campaign, [f"p{n}@x.example" for n in range(5)])
        Engine().run_once()
        Sender().drain()
        assert len(sink.messages) == 1, "p0 and p1 were deferred, p3 and p4 held by the cap"
        traveller.move_to(start + dt.timedelta(hours=2))  # past the retry backoff
        Sender().drain()
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
        "p0@x.example", "p1@x.example", "p2@x.example"
    ]  # fmt: skip
    held = Email.objects.filter(status=Status.SCHEDULED).order_by("to_address")
    assert [e.to_address for e in held] == ["p3@x.example", "p4@x.example"]
    assert held[0].reason == "daily cap of 3 reached; goes out Wed 00:00 New York time"


@pytest.mark.django_db
def test_hour_windows_across_the_autumn_change(alice: User) -> None:
    """Mautic PR #11602: windows computed with the offset of the wrong side of the change."""
    policy = whole_week(alice, start_time=dt.time(9, 0), end_time=dt.time(17, 0))
    saturday_evening = dt.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK)  # EDT, -4
    opens = next_open(policy, saturday_evening, NEW_YORK)
    assert opens == dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC)  # 09:00 EST, -5
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert next_open(policy, dt.datetime(2026, 10, 24, 18, tzinfo=paris), paris) == dt.datetime(
        2026, 10, 25, 8, 0, tzinfo=dt.UTC
    )  # 09:00 CET on the change day, not 09:00 CEST


@pytest.mark.django_db
def test_windows_are_in_the_recipients_zone_not_utc(alice: User) -> None:
    """Mautic #7665: a 9-to-5 window was applied in UTC for everyone."""
    whole_week(alice, start_time=dt.time(9, 0), end_time=dt.time(17, 0))
    Person.objects.create(owner=alice, email="kenji@x.example", time_zone="Asia/Tokyo")
    Person.objects.create(owner=alice, email="ny@x.example", time_zone="America/New_York")
    now = dt.datetime(2026, 6, 10, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo, 23:00 in New York
    with time_machine.travel(now, tick=False):
        campaign = one_email(alice)
        enrol(alice, campaign, ["kenji@x.example", "ny@x.example"])
        Engine().run_once()
        due = list(Email.objects.filter(campaign=campaign).order_by("to_address"))
        assert admit([e.pk for e in due], now) == [due[0].pk]
    ny = Email.objects.get(to_address="ny@x.example")
    assert ny.due_at == dt.datetime(2026, 6, 10, 9, 0, tzinfo=NEW_YORK)
    assert ny.reason == "outside the sending window; goes out Wed 09:00 New York time"
