"""Reading campaigns: statistics per campaign, step and variant, the people and their next
step, and the labels the folders show in their Campaign column."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q

from commandcenter.campaigns.builder import live_steps
from commandcenter.campaigns.models import Campaign, Enrolment, Step, Variant
from commandcenter.campaigns.states import FINAL, LIVE, ExitReason, State
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.tasks.models import Task
from commandcenter.tasks.states import TaskStatus

SENT_STATUSES = (Status.DELIVERED, Status.ARCHIVED, Status.BOUNCED, Status.SPAM)


def put_campaign_labels(emails: Iterable[Email]) -> None:
    """Give each campaign email of a page `campaign_label`, in one query for all."""
    emails = [e for e in emails if e.campaign_id is not None]
    if not emails:
        return
    steps = {
        s.pk: s
        for s in Step.objects.filter(pk__in={e.step_id for e in emails}).select_related("campaign")
    }
    for email in emails:
        step = steps.get(email.step_id) if email.step_id else None
        if step is not None:
            email.campaign_label = f"{step.campaign.name} · {step.label}"  # type: ignore[attr-defined]


def variant_letters(variant_ids: Iterable[int | None]) -> dict[int, str]:
    """Variant id -> its letter (A, B…), in one query for a page."""
    ids = {pk for pk in variant_ids if pk}
    if not ids:
        return {}
    return {v.pk: v.letter for v in Variant.objects.filter(pk__in=ids).only("pk", "index")}


def state_counts(campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(State.values, 0))
    rows = (
        Enrolment.objects.filter(campaign_id__in=list(campaign_ids))
        .values("campaign_id", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        counts[row["campaign_id"]][row["state"]] = row["n"]
    return counts


def email_counts(condition: Q, group_by: str) -> dict[Any, dict[str, int]]:
    """sent, viewed, clicked, replied, bounced (human engagement only) per `group_by`."""
    rows = (
        Email.objects.filter(condition)
        .values(group_by)
        .annotate(
            sent=Count("pk", filter=Q(status__in=SENT_STATUSES)),
            viewed=Count("pk", filter=Q(opens__gt=0)),
            clicked=Count("pk", filter=Q(clicks__gt=0)),
            replied=Count("pk", filter=Q(replies__gt=0)),
            bounced=Count("pk", filter=Q(status=Status.BOUNCED)),
            scheduled=Count("pk", filter=Q(status=Status.SCHEDULED)),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
        )
        .order_by()
    )
    return {row.pop(group_by): row for row in rows}


EMPTY_EMAILS = dict.fromkeys(
    ("sent", "viewed", "clicked", "replied", "bounced", "scheduled", "failed"), 0
)


def campaign_stats(campaign: Campaign) -> dict[str, Any]:
    states = state_counts([campaign.pk])[campaign.pk]
    exited = dict.fromkeys(ExitReason.values, 0)
    for row in (
        Enrolment.objects.filter(campaign=campaign, state=State.EXITED)
        .values("exit_reason")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        exited[row["exit_reason"] or ExitReason.REMOVED] += row["n"]
    totals = email_counts(Q(campaign=campaign), "campaign_id").get(campaign.pk, EMPTY_EMAILS)
    per_step = email_counts(Q(campaign=campaign), "step_id")
    per_variant = email_counts(Q(campaign=campaign, variant__isnull=False), "variant_id")
    tasks = _task_counts(campaign)
    standing = dict(
        Enrolment.objects.filter(campaign=campaign, state__in=sorted(LIVE))
        .values("next_step_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("next_step_id", "n")
    )
    steps = []
    for step in live_steps(campaign):
        entry: dict[str, Any] = {
            "id": step.pk,
            "position": step.position,
            "day": step.day,
            "type": step.type,
            "label": step.label,
            "people_here": standing.get(step.pk, 0),
            **per_step.get(step.pk, EMPTY_EMAILS),
            "tasks": tasks.get(step.pk, dict.fromkeys(("open", "completed", "skipped"), 0)),
            "variants": [
                {
                    "id": v.pk,
                    "letter": v.letter,
                    "subject": v.subject,
                    **per_variant.get(v.pk, EMPTY_EMAILS),
                }
                for v in step.variants.all()
            ],
        }
        steps.append(entry)
    enrolled = sum(states.values())
    return {
        "campaign": campaign.pk,
        "enrolled": enrolled,
        **states,
        "exited_by_reason": exited,
        # listmonk #1931: finished only when every enrolment is final.
        "is_finished": enrolled > 0 and all(states[s] == 0 for s in LIVE),
        **totals,
        "steps": steps,
    }


def _task_counts(campaign: Campaign) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("open", "completed", "skipped"), 0)
    )
    for row in (
        Task.objects.filter(campaign=campaign)
        .exclude(status=TaskStatus.DELETED)
        .values("step_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[row["step_id"]][row["status"]] = row["n"]
    return counts


def funnel(stats: dict[str, Any]) -> list[tuple[str, int]]:
    """The stages of the funnel picture: enrolled, sent, viewed, clicked, replied."""
    return [
        ("enrolled", stats["enrolled"]),
        ("sent", stats["sent"]),
        ("viewed", stats["viewed"]),
        ("clicked", stats["clicked"]),
        ("replied", stats["replied"]),
    ]


def is_final(state: str) -> bool:
    return state in FINAL
