"""Campaign days and sending windows across weekends, zones and both daylight-saving changes,
with frozen time and property tests."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from commandcenter.accounts.models import User
from commandcenter.accounts.services import issue_api_token
from commandcenter.campaigns import schedule
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.enrol import enrol
from commandcenter.campaigns.models import SendingPolicy
from commandcenter.people.models import Person
from commandcenter.tasks import services
from commandcenter.tasks.models import Task

ZONES = ["America/New_York", "Europe/Paris", "Australia/Sydney", "Australia/Adelaide",
         "Asia/Kolkata", "UTC"]  # fmt: skip
# (zone, a day of a daylight-saving change): spring forward and fall back in each.
CHANGES = [
    ("America/New_York", dt.date(2026, 3, 8)),
    ("America/New_York", dt.date(2026, 11, 1)),
    ("Europe/Paris", dt.date(2026, 3, 29)),
    ("Europe/Paris", dt.date(2026, 10, 25)),
    ("Australia/Sydney", dt.date(2026, 10, 4)),
    ("Australia/Sydney", dt.date(2026, 4, 5)),
    # A half-hour zone with its own changes.
    ("Australia/Adelaide", dt.date(2026, 10, 4)),
    ("Australia/Adelaide", dt.date(2026, 4, 5)),
]
dates = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2030, 12, 31))
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "change"), CHANGES)
def test_a_step_after_a_change_runs_at_its_local_time(
    alice: User, zone: str, change: dt.date
) -> None:
    where = zoneinfo.ZoneInfo(zone)
    Person.objects.create(owner=alice, email="pat@x.example", time_zone=zone)
    enrolled_at = dt.datetime.combine(change - dt.timedelta(days=2), dt.time(8, 0), where)
    with time_machine.travel(enrolled_at, tick=False) as traveller:
        campaign = create_campaign(
            alice,
            name="Across the change",
            steps=[
                StepSpec(day=1, type="custom", time=dt.time(9)),
                StepSpec(day=4, type="call", time=dt.time(9)),
            ],
        )
        enrolment = enrol(alice, campaign, ["pat@x.example"]).enrolled[0]
        traveller.move_to(dt.datetime.combine(enrolled_at.date(), dt.time(9), where))
        Engine().run_once()
        services.complete(alice, list(Task.objects.all()))
        Engine().run_once()
        enrolment.refresh_from_db()
        after = dt.datetime.combine(change + dt.timedelta(days=1), dt.time(9), where)
        assert enrolment.next_at == after
        assert enrolment.next_at.astimezone(where).time() == dt.time(9)
        traveller.move_to(after - dt.timedelta(minutes=1))
        assert Engine().run_once() == 0
        traveller.move_to(after)
        assert Engine().run_once() == 1
    call = Task.objects.get(type="call")
    assert call.due_at.astimezone(where).replace(tzinfo=None) == dt.datetime.combine(
        change + dt.timedelta(days=1), dt.time(9)
    )


@given(start=dates, day=st.integers(1, 120))
def test_a_five_day_week_never_lands_on_a_weekend(start: dt.date, day: int) -> None:
    date = schedule.campaign_date(start, day, skip_weekends=True)
    assert date.weekday() < 5
    first = schedule.first_day(start, skip_weekends=True)
    weekdays = sum(
        1 for n in range((date - first).days) if (first + dt.timedelta(days=n)).weekday() < 5
    )
    assert weekdays == day - 1


@given(start=dates, day=st.integers(1, 364))
def test_calendar_days_are_days(start: dt.date, day: int) -> None:
    assert schedule.campaign_date(start, day, skip_weekends=False) == start + dt.timedelta(
        days=day - 1
    )
    later = schedule.campaign_date(start, day + 1, skip_weekends=True)
    assert later > schedule.campaign_date(start, day, skip_weekends=True)


@given(start=dates, day=st.integers(1, 60), time=times, zone=st.sampled_from(ZONES))
@settings(max_examples=300)
def test_a_step_is_due_at_its_wall_clock_time_or_just_after_a_skipped_hour(
    start: dt.date, day: int, time: dt.time, zone: str
) -> None:
    where = zoneinfo.ZoneInfo(zone)
    moment = schedule.planned_at(start, day, time, where, skip_weekends=False)
    local = moment.astimezone(where)
    assert local.date() == start + dt.timedelta(days=day - 1)
    wanted = dt.datetime.combine(local.date(), time)
    drift = local.replace(tzinfo=None) - wanted
    # Equal, except a time the spring change skips: then as far after it as the skip.
    assert drift in (dt.timedelta(0), dt.timedelta(hours=1), dt.timedelta(minutes=30))


@given(
    moment=st.datetimes(
        min_value=dt.datetime(2025, 1, 1),
        max_value=dt.datetime(2030, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    zone=st.sampled_from(ZONES),
    days=st.sets(st.integers(0, 6), min_size=1),
    hours=st.tuples(st.integers(0, 22), st.integers(1, 23)).filter(lambda h: h[0] < h[1]),
)
@settings(max_examples=300)
def test_next_open_is_the_first_moment_inside_the_window(
    moment: dt.datetime, zone: str, days: set[int], hours: tuple[int, int]
) -> None:
    from commandcenter.campaigns.throttle import next_open
    from commandcenter.lib.zones import local_moment

    policy = SendingPolicy(
        days=sorted(days), start_time=dt.time(hours[0]), end_time=dt.time(hours[1])
    )
    where = zoneinfo.ZoneInfo(zone)

    def window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return local_moment(day, policy.start_time, where), local_moment(
            day, policy.end_time, where
        )

    def inside(at: dt.datetime) -> bool:
        day = at.astimezone(where).date()
        opens, closes = window(day)
        return day.weekday() in days and opens <= at < closes

    found = next_open(policy, moment, where)
    assert found >= moment
    assert inside(found)
    if found > moment:
        # It is the opening of a window, and nothing between was inside one.
        assert found == window(found.astimezone(where).date())[0]
        assert not inside(moment)
        day = moment.astimezone(where).date()
        while day < found.astimezone(where).date():
            opens, closes = window(day)
            assert day.weekday() not in days or closes <= moment or opens >= found
            day += dt.timedelta(days=1)


@pytest.mark.django_db
def test_an_unknown_zone_is_refused_at_the_door_and_never_breaks_a_schedule(
    alice: User, client
) -> None:
    person = Person.objects.create(owner=alice, email="pat@x.example")
    answer = client.patch(
        f"/api/v1/people/{person.pk}",
        '{"time_zone": "Mars/Olympus_Mons"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {issue_api_token(alice)}"},
    )
    assert answer.status_code == 422 and "time_zone" in answer.json()["errors"]
    # A zone that got in some other way (an old import) falls back to the owner's.
    Person.objects.filter(pk=person.pk).update(time_zone="Mars/Olympus_Mons")
    person.refresh_from_db()
    alice.time_zone = "Europe/Paris"
    assert schedule.zone_for(person, alice) == zoneinfo.ZoneInfo("Europe/Paris")
