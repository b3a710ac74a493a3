"""Tasks: the state table, the six views in the user's own day, snooze presets, actions."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.tasks import services
from commandcenter.tasks.models import Task, TaskEvent
from commandcenter.tasks.queries import Days, Filters, snooze_until, view_counts, view_tasks
from commandcenter.tasks.states import TaskRefused, TaskStatus

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def make(user: User, due: dt.datetime, **fields: object) -> Task:
    values = {"type": "call", "due_at": due, **fields}
    return services.create_task(user, services.TaskFields(**values))  # type: ignore[arg-type]


def test_it_moves_only_along_the_state_table_and_keeps_every_change(alice: User) -> None:
    task = make(alice, dt.datetime(2026, 5, 1, 9, tzinfo=UTC))
    assert services.complete(alice, [task], outcome="voicemail") == [task.pk]
    with pytest.raises(TaskRefused, match="Completed; it cannot be skipped"):
        services.skip(alice, [task])
    task.refresh_from_db()
    assert (task.status, task.outcome, task.done_by) == ("completed", "voicemail", alice)
    assert list(TaskEvent.objects.filter(task=task).values_list("kind", flat=True)) == [
        "created",
        "completed",
    ]


def test_a_campaign_task_cannot_be_deleted_but_a_hand_made_one_can(alice: User) -> None:
    from commandcenter.campaigns.engine import Engine
    from commandcenter.campaigns.enrol import enrol
    from commandcenter.campaigns.tests.conftest import three_steps

    campaign = three_steps(alice, skip_weekends=False)
    campaign.steps.filter(position=0).update(type="call")
    enrol(alice, campaign, ["pat@x.example"])
    with time_machine.travel(dt.datetime.now(UTC) + dt.timedelta(days=1)):
        Engine().run_once()
    from_campaign = Task.objects.get(campaign=campaign)
    with pytest.raises(TaskRefused, match="cannot be deleted"):
        services.delete(alice, [from_campaign])
    by_hand = make(alice, dt.datetime(2026, 5, 1, tzinfo=UTC))
    services.delete(alice, [by_hand])
    assert Task.objects.get(pk=by_hand.pk).status == TaskStatus.DELETED
    assert Task.objects.get(pk=from_campaign.pk).status == TaskStatus.OPEN


@pytest.mark.parametrize(
    ("zone", "today_count"),
    [("Asia/Tokyo", 1), ("America/Los_Angeles", 1)],
)
def test_today_is_the_users_own_day(zone: str, today_count: int) -> None:
    rep = create_user("rep", email="rep@example.com", password="x")
    rep.time_zone = zone
    rep.save()
    where = zoneinfo.ZoneInfo(zone)
    now = dt.datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    local_noon = dt.datetime.combine(now.astimezone(where).date(), dt.time(12), where)
    make(rep, local_noon)  # today, wherever the rep is
    make(rep, local_noon + dt.timedelta(days=1))  # tomorrow
    make(rep, local_noon - dt.timedelta(days=1))  # overdue
    make(rep, local_noon + dt.timedelta(days=5))  # upcoming
    counts = view_counts([rep.pk], Days.at(now, where))
    assert counts == {
        "overdue": 1,
        "today": today_count,
        "tomorrow": 1,
        "upcoming": 1,
        "completed": 0,
        "skipped": 0,
    }


def test_tokyo_and_los_angeles_have_different_todays_for_the_same_task(alice: User) -> None:
    due = dt.datetime(2026, 6, 11, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, 18:00 the day before in LA
    make(alice, due)
    now = dt.datetime(2026, 6, 10, 20, 0, tzinfo=UTC)
    tokyo = view_counts([alice.pk], Days.at(now, zoneinfo.ZoneInfo("Asia/Tokyo")))
    la = view_counts([alice.pk], Days.at(now, zoneinfo.ZoneInfo("America/Los_Angeles")))
    assert (tokyo["today"], tokyo["tomorrow"]) == (1, 0)
    assert (la["today"], la["tomorrow"]) == (1, 0)
    later = dt.datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 23:00 Tokyo, 07:00 LA
    assert view_counts([alice.pk], Days.at(later, zoneinfo.ZoneInfo("Asia/Tokyo")))["tomorrow"] == 1
    assert (
        view_counts([alice.pk], Days.at(later, zoneinfo.ZoneInfo("America/Los_Angeles")))["today"]
        == 1
    )


@pytest.mark.parametrize(
    ("zone", "now", "preset", "expected_local"),
    [
        # The day before the spring change in New York: 09:00 tomorrow is EDT, not EST.
        ("America/New_York", "2026-03-07T15:00:00+00:00", "tomorrow", "2026-03-08T09:00"),
        # Paris, the autumn change night.
        ("Europe/Paris", "2026-10-24T20:00:00+00:00", "tomorrow", "2026-10-25T09:00"),
        # Sydney's own spring change (first Sunday of October).
        ("Australia/Sydney", "2026-10-03T10:00:00+00:00", "tomorrow", "2026-10-04T09:00"),
        # A half-hour zone, and "next week" from a Wednesday is Monday.
        ("Asia/Kolkata", "2026-07-01T10:00:00+00:00", "next_week", "2026-07-06T09:00"),
    ],
)
def test_snooze_presets_land_on_the_local_wall_clock(
    zone: str, now: str, preset: str, expected_local: str
) -> None:
    where = zoneinfo.ZoneInfo(zone)
    until = snooze_until(preset, dt.datetime.fromisoformat(now), where)
    assert until.astimezone(where).replace(tzinfo=None) == dt.datetime.fromisoformat(expected_local)


def test_snooze_reassign_and_filters(alice: User) -> None:
    teammate = create_user("tom", email="tom@example.com", password="x", team_name="sales")
    alice.team = teammate.team
    alice.save()
    first = make(alice, dt.datetime(2026, 5, 1, 9, tzinfo=UTC), priority="high")
    second = make(alice, dt.datetime(2026, 5, 1, 8, tzinfo=UTC), type="linkedin")
    until = dt.datetime.now(UTC) + dt.timedelta(days=2)
    services.snooze(alice, [first, second], until)
    assert set(Task.objects.values_list("due_at", flat=True)) == {until}
    days = Days.at(dt.datetime.now(UTC), zoneinfo.ZoneInfo("UTC"))
    by_priority = list(view_tasks([alice.pk], "upcoming", days, sort="priority"))
    assert by_priority[0] == first
    only_linkedin = view_tasks([alice.pk], "upcoming", days, filters=Filters(type="linkedin"))
    assert list(only_linkedin) == [second]
    services.reassign(alice, [first], teammate)
    assert Task.objects.get(pk=first.pk).assignee == teammate
    stranger = create_user("sid", email="sid@example.com", password="x", team_name="other")
    with pytest.raises(services.TaskError, match="teammate"):
        services.reassign(alice, [second], stranger)


def test_bad_task_input_names_the_field_and_changes_nothing(alice: User) -> None:
    with pytest.raises(services.TaskError) as caught:
        services.create_task(
            alice,
            services.TaskFields(
                type="fax", due_at=dt.datetime(2026, 5, 1), person="not an address"
            ),
        )
    assert set(caught.value.errors) == {"type", "due_at"}
    assert Task.objects.count() == 0
