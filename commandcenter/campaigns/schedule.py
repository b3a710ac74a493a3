"""When a step falls due: campaign days (optionally on a five-day week) at a time of day in
the recipient's zone (else the owner's). Every time comes from the enrolment's day 1 and the
step's day, never from when the engine ran, so nothing drifts and nothing bunches up."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from commandcenter.accounts.models import User
from commandcenter.lib.zones import local_moment, zone_or_none
from commandcenter.people.models import Person

SATURDAY = 5


def zone_for(person: Person, owner: User) -> zoneinfo.ZoneInfo:
    """The recipient's zone when it is known, else the owner's, else UTC."""
    return (
        zone_or_none(person.time_zone) or zone_or_none(owner.time_zone) or zoneinfo.ZoneInfo("UTC")
    )


def is_weekend(day: dt.date) -> bool:
    return day.weekday() >= SATURDAY


def first_day(today: dt.date, *, skip_weekends: bool) -> dt.date:
    """Day 1 of an enrolment made on `today`: today, or the Monday after a weekend."""
    while skip_weekends and is_weekend(today):
        today += dt.timedelta(days=1)
    return today


def campaign_date(started_on: dt.date, day: int, *, skip_weekends: bool) -> dt.date:
    """The date of campaign day `day` (day 1 = started_on); weekdays only when skipping."""
    if not skip_weekends:
        return started_on + dt.timedelta(days=day - 1)
    date = first_day(started_on, skip_weekends=True)
    remaining = day - 1
    whole_weeks, remaining = divmod(remaining, 5)
    date += dt.timedelta(weeks=whole_weeks)
    while remaining:
        date += dt.timedelta(days=1)
        if not is_weekend(date):
            remaining -= 1
    return date


def planned_at(
    started_on: dt.date,
    day: int,
    time: dt.time | None,
    where: zoneinfo.ZoneInfo,
    *,
    skip_weekends: bool,
) -> dt.datetime:
    """The UTC moment a step is due: its time of day (or the day's start) on its date."""
    date = campaign_date(started_on, day, skip_weekends=skip_weekends)
    return local_moment(date, time or dt.time(0, 0), where)
