"""Sending windows and throttles: a user's rule for when campaign emails may go out.

What they apply to: the automatic emails of campaigns. A rep's own emails (single, Select
and Send, Group, a manual campaign email sent from compose) go when the rep says. What they
count: every email of the user that the mail server accepted (Delivered, and those that
bounced or were marked spam later) plus those being handed over right now, whatever kind;
a deferral (4xx, the server unreachable) is not a send and is not counted.

`admit()` runs inside the sender's claim (delivery/queue.py): a due campaign email that the
window or a cap holds back stays in Scheduled with a reason and a new due time, e.g.
"daily cap of 200 reached; goes out Tue 09:00 New York time".
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from commandcenter.campaigns.models import SendingPolicy
from commandcenter.lib.zones import local_moment, start_of_day, zone, zone_or_none
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, record_event

# Statuses of an email the server accepted (sent_at is set).
ACCEPTED = (Status.DELIVERED, Status.ARCHIVED, Status.BOUNCED, Status.SPAM)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class PolicyError(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def check_policy(
    days: Sequence[int],
    start: dt.time,
    end: dt.time,
    daily_cap: int | None,
    burst_count: int | None,
    burst_seconds: int | None,
) -> dict[str, str]:
    """The problems of a policy, by field; empty when it is usable."""
    errors: dict[str, str] = {}
    if not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        errors["days"] = "Choose at least one weekday (0 = Monday … 6 = Sunday)."
    if start >= end:
        errors["end_time"] = "The window must end after it starts: it would allow no time at all."
    if daily_cap is not None and daily_cap < 1:
        errors["daily_cap"] = "A daily cap is at least 1 (leave it empty for no cap)."
    if (burst_count is None) != (burst_seconds is None):
        errors["burst_count"] = "Give both: at most N emails every M seconds."
    elif burst_count is not None and burst_seconds is not None:
        if burst_count < 1:
            errors["burst_count"] = "At least 1 email (leave both empty for no limit)."
        if burst_seconds < 1:
            errors["burst_seconds"] = "At least 1 second."
    return errors


def save_policy(user_id: int, **fields: object) -> SendingPolicy:
    """Create or change a user's policy; PolicyError (by field) and nothing saved when the
    result would be unusable."""
    policy = SendingPolicy.objects.filter(user_id=user_id).first() or SendingPolicy(user_id=user_id)
    editable = {"days", "start_time", "end_time", "daily_cap", "burst_count", "burst_seconds"}
    for name, value in fields.items():
        if name in editable or name == "ooo_pause_days":
            setattr(policy, name, value)
    errors = check_policy(
        policy.days,
        policy.start_time,
        policy.end_time,
        policy.daily_cap,
        policy.burst_count,
        policy.burst_seconds,
    )
    if errors:
        raise PolicyError(errors)
    policy.save()
    return policy


def next_open(policy: SendingPolicy, moment: dt.datetime, where: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first moment at or after `moment` inside the window, in wall-clock time of `where`
    (so 09:00 stays 09:00 across a daylight-saving change)."""
    local_day = moment.astimezone(where).date()
    for offset in range(8):
        day = local_day + dt.timedelta(days=offset)
        if day.weekday() not in policy.days:
            continue
        opens = local_moment(day, policy.start_time, where)
        closes = local_moment(day, policy.end_time, where)
        if moment < opens:
            return opens
        if moment < closes:
            return moment
    raise AssertionError("a checked policy has a weekday in every week")


def zone_label(where: zoneinfo.ZoneInfo) -> str:
    """ "America/New_York" -> "New York time"."""
    return f"{str(where.key).rsplit('/', 1)[-1].replace('_', ' ')} time"


def when_label(moment: dt.datetime, where: zoneinfo.ZoneInfo) -> str:
    local = moment.astimezone(where)
    return f"{DAY_NAMES[local.weekday()]} {local:%H:%M} {zone_label(where)}"


@dataclass
class Hold:
    until: dt.datetime
    reason: str


@dataclass
class Row:
    pk: int
    owner_id: int
    where: zoneinfo.ZoneInfo
    owner_zone: zoneinfo.ZoneInfo


class Budget:
    """What one owner may still send now: the daily cap and the burst limit, as counted."""

    def __init__(self, policy: SendingPolicy, owner_zone: zoneinfo.ZoneInfo, now: dt.datetime):
        self.policy = policy
        self.now = now
        handing = Email.objects.filter(owner_id=policy.user_id, status=Status.IN_PROGRESS).count()
        self.day_start = start_of_day(now.astimezone(owner_zone).date(), owner_zone)
        self.tomorrow = start_of_day(
            now.astimezone(owner_zone).date() + dt.timedelta(days=1), owner_zone
        )
        self.sent_today = self._accepted_since(self.day_start) + handing
        self.burst_times: list[dt.datetime] = []
        if policy.burst_seconds:
            since = now - dt.timedelta(seconds=policy.burst_seconds)
            self.burst_times = sorted(
                sent
                for sent in Email.objects.filter(
                    owner_id=policy.user_id, status__in=ACCEPTED, sent_at__gte=since
                ).values_list("sent_at", flat=True)
                if sent is not None
            )
            self.burst_handing = handing

    def _accepted_since(self, since: dt.datetime) -> int:
        return Email.objects.filter(
            owner_id=self.policy.user_id, status__in=ACCEPTED, sent_at__gte=since
        ).count()

    def hold_for(self, row: Row) -> Hold | None:
        policy, now = self.policy, self.now
        opens = next_open(policy, now, row.where)
        if opens > now:
            return Hold(
                opens, f"outside the sending window; goes out {when_label(opens, row.where)}"
            )
        if policy.daily_cap is not None and self.sent_today >= policy.daily_cap:
            until = next_open(policy, self.tomorrow, row.where)
            return Hold(
                until,
                f"daily cap of {policy.daily_cap} reached; goes out {when_label(until, row.where)}",
            )
        if policy.burst_count and policy.burst_seconds:
            recent = len(self.burst_times) + self.burst_handing
            if recent >= policy.burst_count:
                oldest = self.burst_times[0] if self.burst_times else now
                until = max(oldest + dt.timedelta(seconds=policy.burst_seconds), now)
                until = next_open(policy, until, row.where)
                return Hold(
                    until,
                    f"at most {policy.burst_count} emails every {policy.burst_seconds} s; "
                    f"goes out {when_label(until, row.where)}",
                )
            self.burst_handing += 1
        self.sent_today += 1
        return None


def admit(candidate_ids: list[int], now: dt.datetime | None = None) -> list[int]:
    """The candidates that may be claimed now; the others are held back in Scheduled, each
    with its reason and new due time. Costs one query when none is a campaign email."""
    if not candidate_ids:
        return candidate_ids
    now = now or timezone.now()
    rows = [
        Row(pk, owner, zone_or_none(person_zone) or zone(owner_zone), zone(owner_zone))
        for pk, owner, person_zone, owner_zone in Email.objects.filter(
            pk__in=candidate_ids, campaign_id__isnull=False
        ).values_list("pk", "owner_id", "person__time_zone", "owner__time_zone")
    ]
    if not rows:
        return candidate_ids
    policies = {
        p.user_id: p for p in SendingPolicy.objects.filter(user_id__in={r.owner_id for r in rows})
    }
    budgets: dict[int, Budget] = {}
    held: set[int] = set()
    by_pk = {row.pk: row for row in rows}
    for pk in candidate_ids:  # in due order: the earliest get the room left
        row = by_pk.get(pk)
        if row is None or row.owner_id not in policies:
            continue
        if row.owner_id not in budgets:
            budgets[row.owner_id] = Budget(policies[row.owner_id], row.owner_zone, now)
        hold = budgets[row.owner_id].hold_for(row)
        if hold is not None and _hold(pk, hold):
            held.add(pk)
    return [pk for pk in candidate_ids if pk not in held]


def _hold(pk: int, hold: Hold) -> bool:
    changed = Email.objects.filter(pk=pk, status=Status.SCHEDULED).update(
        due_at=hold.until, reason=hold.reason, updated_at=timezone.now()
    )
    if changed:
        record_event(
            pk,
            "held",
            detail=hold.reason,
            status=Status.SCHEDULED,
            data={"until": hold.until.isoformat()},
        )
    return bool(changed)


def policies_of(owner_ids: set[int]) -> dict[int, SendingPolicy]:
    return {p.user_id: p for p in SendingPolicy.objects.filter(user_id__in=owner_ids)}


def window_start(
    policy: SendingPolicy | None, planned: dt.datetime, where: zoneinfo.ZoneInfo
) -> dt.datetime:
    """A new campaign email's first due time: its planned time, moved into the window."""
    return planned if policy is None else next_open(policy, planned, where)
