"""What signals do to enrolments: a human reply, a bounce, an unsubscribe or a spam complaint
end the person's campaigns; an out-of-office reply pauses them until the day after the
stated return date. Called once per recorded signal from signals/record.py.

Ending one takes out what it had scheduled: its Scheduled emails go to Failed and its open
tasks are skipped, each with the reason ("campaign ended: Pat replied on 3 Dec").
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
from collections.abc import Mapping, Sequence
from email.utils import getaddresses
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns.models import Enrolment, SendingPolicy
from commandcenter.campaigns.states import LIVE, ExitReason, State, transition_many
from commandcenter.lib.zones import start_of_day, zone
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.outbox.states import transition_many as move_emails
from commandcenter.tasks.models import Task
from commandcenter.tasks.states import TaskStatus
from commandcenter.tasks.states import transition_many as move_tasks

ENDING = {
    "replied": ExitReason.REPLIED,
    "bounced": ExitReason.BOUNCED,
    "unsubscribed": ExitReason.UNSUBSCRIBED,
    "complained": ExitReason.SPAM,
}
DEFAULT_OOO_DAYS = 7


def on_signal(email: Email, kind: str, data: Mapping[str, Any] | None = None) -> None:
    """React to one signal that was just recorded for `email`."""
    data = data or {}
    if kind not in ENDING and kind != "auto_replied":
        return
    live = list(
        Enrolment.objects.filter(person_id=email.person_id, state__in=sorted(LIVE)).values_list(
            "pk", flat=True
        )
    )
    if not live:
        return
    if kind == "replied" and is_our_own_mail(data):
        return
    if kind == "auto_replied":
        pause_for_absence(live, email, data)
        return
    end_enrolments(live, ENDING[kind], ending_reason(email, kind))


def ending_reason(email: Email, kind: str) -> str:
    who = email.person.first_name or email.to_address
    today = timezone.localdate(timezone.now(), zone(email.owner.time_zone))
    on = f"{today.day} {today:%b}"
    words = {
        "replied": f"{who} replied on {on}",
        "bounced": f"the email to {email.to_address} bounced on {on}",
        "unsubscribed": f"{who} unsubscribed on {on}",
        "complained": f"{who} marked an email as spam on {on}",
    }
    return f"campaign ended: {words[kind]}"


def is_our_own_mail(data: Mapping[str, Any]) -> bool:
    """An inbound "reply" that is our own mail: sent from one of our users' addresses, or a
    copy of one of our emails (a threaded follow-up found in a mailbox). Never a reply."""
    from commandcenter.signals.models import InboundMessage

    inbound_id = data.get("inbound_message")
    inbound = InboundMessage.objects.filter(pk=inbound_id).first() if inbound_id else None
    if inbound is None:
        return False
    if inbound.message_id and Email.objects.filter(message_id=inbound.message_id).exists():
        return True
    raw = bytes(inbound.raw)
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:65536])
    senders = [addr.lower() for _name, addr in getaddresses(parsed.get_all("From", [])) if addr]
    ours = User.objects.annotate(address=Lower("email")).filter(address__in=senders)
    return bool(senders) and ours.exists()


def end_enrolments(enrolment_ids: Sequence[int], exit_reason: str, reason: str) -> list[int]:
    """Exit the enrolments; their Scheduled emails leave Scheduled and open tasks are skipped."""
    with transaction.atomic():
        ended = transition_many(
            enrolment_ids,
            State.EXITED,
            kind="exited",
            reason=reason,
            data={"exit_reason": exit_reason},
            updates={"exit_reason": exit_reason, "next_at": None},
        )
        take_out(ended, reason)
    return ended


def take_out(enrolment_ids: Sequence[int], reason: str) -> None:
    scheduled = list(
        Email.objects.filter(enrolment_id__in=enrolment_ids, status=Status.SCHEDULED).values_list(
            "pk", flat=True
        )
    )
    move_emails(
        scheduled, Status.FAILED, source=Status.SCHEDULED, kind="campaign_ended", reason=reason
    )
    open_tasks = Task.objects.filter(enrolment_id__in=enrolment_ids, status=TaskStatus.OPEN)
    move_tasks(
        list(open_tasks.values_list("pk", flat=True)),
        TaskStatus.SKIPPED,
        kind="skipped",
        actor_id=None,
        detail=reason,
        updates={"reason": reason},
    )


def return_moment(email: Email, data: Mapping[str, Any], enrolment_zone: str) -> dt.datetime:
    """The start of the day after the stated return date, in the enrolment's zone; or the
    owner's setting (default 7 days) from now when none is stated."""
    stated = data.get("return_date")
    if stated:
        try:
            back = dt.date.fromisoformat(str(stated)[:10])
            return start_of_day(back + dt.timedelta(days=1), zone(enrolment_zone))
        except ValueError:
            pass
    policy = SendingPolicy.objects.filter(user_id=email.owner_id).first()
    days = policy.ooo_pause_days if policy else DEFAULT_OOO_DAYS
    return timezone.now() + dt.timedelta(days=days)


def pause_for_absence(enrolment_ids: Sequence[int], email: Email, data: Mapping[str, Any]) -> None:
    who = email.person.first_name or email.to_address
    for enrolment_id, enrolment_zone in Enrolment.objects.filter(pk__in=enrolment_ids).values_list(
        "pk", "zone"
    ):
        until = return_moment(email, data, enrolment_zone)
        local = until.astimezone(zone(enrolment_zone))
        reason = f"{who} is out of office; goes on {local.day} {local:%b}"
        with transaction.atomic():
            paused = transition_many(
                [enrolment_id],
                State.PAUSED,
                kind="paused",
                reason=reason,
                data={"until": until.isoformat()},
                updates={"paused_until": until},
                sources=[State.ACTIVE],
            )
            if not paused:
                # Already paused: a later return date pushes the pause out.
                Enrolment.objects.filter(
                    pk=enrolment_id, state=State.PAUSED, paused_until__lt=until
                ).update(paused_until=until, reason=reason)
            hold_scheduled(enrolment_id, until, reason)


def hold_scheduled(enrolment_id: int, until: dt.datetime, reason: str) -> None:
    """The enrolment's Scheduled emails wait for the end of the pause, saying why."""
    from commandcenter.outbox.states import record_event

    for pk in Email.objects.filter(
        enrolment_id=enrolment_id, status=Status.SCHEDULED, due_at__lt=until
    ).values_list("pk", flat=True):
        if Email.objects.filter(pk=pk, status=Status.SCHEDULED).update(
            due_at=until, reason=f"held: {reason}"
        ):
            record_event(pk, "held", detail=reason, status=Status.SCHEDULED)
