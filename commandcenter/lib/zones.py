"""Time zones by name: the one check of a zone name, and local days as UTC moments."""

from __future__ import annotations

import datetime as dt
import zoneinfo


def zone_or_none(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone of that IANA name, or None for a blank or unknown name."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def is_zone(name: str) -> bool:
    return zone_or_none(name) is not None


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of that name; UTC for a blank or unknown one."""
    return zone_or_none(name) or zoneinfo.ZoneInfo("UTC")


def local_moment(day: dt.date, time: dt.time, where: zoneinfo.ZoneInfo) -> dt.datetime:
    """That wall-clock time on that day in that zone, in UTC. A time the spring change skips
    comes out as the same distance after the change (02:30 -> 03:30); one the autumn change
    repeats is its first occurrence."""
    local = dt.datetime.combine(day, time).replace(tzinfo=where)
    # Round-trip through UTC: a skipped wall time becomes the real moment it stands for.
    return local.astimezone(dt.UTC)


def start_of_day(day: dt.date, where: zoneinfo.ZoneInfo) -> dt.datetime:
    return local_moment(day, dt.time(0, 0), where)
