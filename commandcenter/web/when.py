"""Dates as a rep reads them: in their time zone, with the zone named ("Tue 27 Nov, 14:00 Paris
time"), in their language (CLDR formats and zone names, from Babel)."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_timezone_location, match_skeleton
from django.utils import timezone, translation
from django.utils.translation import gettext as _

# Django's language codes -> CLDR's.
LOCALES = {"zh-hans": "zh_Hans", "en": "en"}


@functools.cache
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(LOCALES.get(language.lower(), language.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def current_locale() -> Locale:
    return _locale(translation.get_language() or "en")


def zone_of(name: str | None = None) -> zoneinfo.ZoneInfo:
    """The named zone, or the active one (the rep's, set by web_view)."""
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    current = timezone.get_current_timezone()
    return current if isinstance(current, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo("UTC")


@functools.cache
def _zone_words(zone_key: str, locale: Locale) -> str:
    if zone_key in {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"}:
        return "UTC"
    city = get_timezone_location(zone_key, locale=locale, return_city=True)
    return _("%(city)s time") % {"city": city}


def zone_name(zone: zoneinfo.ZoneInfo | str | None = None) -> str:
    """ "Paris time", "巴黎时间", "UTC": the zone as people say it."""
    found = zone if isinstance(zone, zoneinfo.ZoneInfo) else zone_of(zone)
    return _zone_words(found.key, current_locale())


# CLDR skeletons (date part, time part): which fields to show; each language orders and
# punctuates them its own way.
SKELETONS = {
    "long": ("yMMMEd", "Hm"),  # Fri, 27 Nov 2026, 14:00 / 2026年11月27日周五 14:00
    "short": ("MMMd", "Hm"),  # 27 Nov, 14:00
    "seconds": ("MMMd", "Hms"),
    "time": ("", "Hm"),
}


@functools.cache
def _pattern(kind: str, locale: Locale) -> str:
    date_skeleton, time_skeleton = SKELETONS[kind]
    time = _skeleton_pattern(time_skeleton, locale)
    if not date_skeleton:
        return time
    date = _skeleton_pattern(date_skeleton, locale)
    combined = str(locale.datetime_formats.get("medium", "{1}, {0}"))
    return combined.replace("{1}", date).replace("{0}", time)


def _skeleton_pattern(skeleton: str, locale: Locale) -> str:
    skeletons = locale.datetime_skeletons
    found = match_skeleton(skeleton, skeletons)
    return str(skeletons[found].pattern) if found else "HH:mm"


def local(moment: dt.datetime, zone: zoneinfo.ZoneInfo | str | None = None) -> dt.datetime:
    return moment.astimezone(zone if isinstance(zone, zoneinfo.ZoneInfo) else zone_of(zone))


def formatted(
    moment: dt.datetime | None, kind: str = "long", zone: zoneinfo.ZoneInfo | str | None = None
) -> str:
    """The moment in the zone (the rep's by default), without the zone's name."""
    if moment is None:
        return ""
    locale = current_locale()
    return format_datetime(local(moment, zone), _pattern(kind, locale), locale=locale)


def with_zone(
    moment: dt.datetime | None, kind: str = "long", zone: zoneinfo.ZoneInfo | str | None = None
) -> str:
    """ "Tue 27 Nov 2026, 14:00 Paris time"."""
    if moment is None:
        return ""
    return f"{formatted(moment, kind, zone)} {zone_name(zone)}"


def scheduled_for(moment: dt.datetime | None, send_zone: str = "") -> str:
    """A send time with its zone; in the zone it was chosen in too, when that is another."""
    if moment is None:
        return ""
    mine = with_zone(moment)
    if not send_zone or zone_of(send_zone).key == zone_of().key:
        return mine
    return _("%(there)s (%(here)s)") % {"there": with_zone(moment, zone=send_zone), "here": mine}
