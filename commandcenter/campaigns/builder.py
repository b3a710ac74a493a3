"""Defining campaigns: checking steps, creating, editing a running campaign, pause and resume.

Every check names its field (`steps[2].day`), and a refused change changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns import mailing
from commandcenter.campaigns.models import Campaign, Enrolment, Step, Variant
from commandcenter.campaigns.states import LIVE, State
from commandcenter.outbox.compose import MAX_BODY, MAX_SUBJECT

MAX_STEPS = 50
MAX_VARIANTS = 5
MAX_DAY = 365
MAX_NAME = 200


class CampaignError(Exception):
    """Bad campaign input: field -> message. `conflict` for a change refused because of
    the people it would strand (the API answers 409)."""

    def __init__(self, errors: Mapping[str, str], *, conflict: bool = False) -> None:
        self.errors = dict(errors)
        self.conflict = conflict
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class VariantSpec:
    subject: str
    body_text: str = ""
    body_html: str = ""


@dataclass
class StepSpec:
    day: object
    type: str
    time: dt.time | None = None
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    thread: bool = False
    notes: str = ""
    variants: list[VariantSpec] = field(default_factory=list)
    id: int | None = None  # an existing step, when editing


def parse_time(raw: object) -> dt.time:
    """ "HH:MM" -> a time; ValueError with a message otherwise."""
    if isinstance(raw, dt.time):
        return raw
    text = str(raw)
    try:
        hours, minutes = text.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{text[:20]!r} is not a time of day as HH:MM (e.g. 09:30).") from None


def check_steps(owner: User, steps: Sequence[StepSpec], errors: dict[str, str]) -> None:
    if not steps:
        errors["steps"] = "A campaign needs at least one step."
        return
    if len(steps) > MAX_STEPS:
        errors["steps"] = f"At most {MAX_STEPS} steps."
        return
    known = mailing.known_fields(owner)
    previous_day = 0
    seen_email = False
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        day = step.day
        if not isinstance(day, int) or isinstance(day, bool) or day < 1:
            errors[f"{where}.day"] = "A campaign day is a whole number from 1 (day 1 is the first)."
        elif day > MAX_DAY:
            errors[f"{where}.day"] = f"At most day {MAX_DAY}."
        elif day < previous_day:
            errors[f"{where}.day"] = (
                f"Steps go in day order: day {day} comes after day {previous_day}."
            )
        else:
            previous_day = day
        if step.type not in Step.Type.values:
            errors[f"{where}.type"] = "Type is one of " + ", ".join(Step.Type.values) + "."
            continue
        if step.thread and not seen_email:
            errors[f"{where}.thread"] = "A threaded step needs an email step before it."
        if step.thread and step.type not in {Step.Type.AUTO_EMAIL, Step.Type.MANUAL_EMAIL}:
            errors[f"{where}.thread"] = "Only an email step can be threaded."
        if step.type in {Step.Type.AUTO_EMAIL, Step.Type.MANUAL_EMAIL}:
            _check_email_step(step, where, known, errors)
            seen_email = True
        elif step.variants:
            errors[f"{where}.variants"] = "Only an automatic email step has variants."


def _check_email_step(step: StepSpec, where: str, known: set[str], errors: dict[str, str]) -> None:
    contents = [(f"{where}", VariantSpec(step.subject, step.body_text, step.body_html))]
    if step.variants:
        if step.type != Step.Type.AUTO_EMAIL:
            errors[f"{where}.variants"] = "Only an automatic email step has variants."
        if len(step.variants) > MAX_VARIANTS:
            errors[f"{where}.variants"] = f"At most {MAX_VARIANTS} variants."
        contents = [(f"{where}.variants[{i}]", v) for i, v in enumerate(step.variants)]
    for prefix, content in contents:
        subject_needed = not step.thread and step.type == Step.Type.AUTO_EMAIL
        if subject_needed and not content.subject.strip():
            errors[f"{prefix}.subject"] = "An email step needs a subject."
        if len(content.subject) > MAX_SUBJECT or "\n" in content.subject:
            errors[f"{prefix}.subject"] = f"One line of at most {MAX_SUBJECT} characters."
        if step.type == Step.Type.AUTO_EMAIL and not (
            content.body_text.strip() or content.body_html.strip()
        ):
            errors[f"{prefix}.body_text"] = "An automatic email step needs a body."
        for name in ("subject", "body_text", "body_html"):
            value = getattr(content, name)
            if len(value) > MAX_BODY:
                errors[f"{prefix}.{name}"] = f"At most {MAX_BODY:,} characters."
            unknown = [f for f in mailing.fields_in(value) if f not in known]
            if unknown:
                names = ", ".join(f"{{{{{f}}}}}" for f in unknown)
                errors[f"{prefix}.{name}"] = (
                    f"Unknown merge field {names}: not a standard field, nor a custom field "
                    "of any of your people."
                )


def _check_name(name: object, errors: dict[str, str]) -> str:
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "A campaign needs a name."
        return ""
    if len(name) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    return name.strip()


def create_campaign(
    owner: User,
    *,
    name: object,
    steps: Sequence[StepSpec],
    skip_weekends: bool = False,
    shared_with_team: bool = False,
) -> Campaign:
    errors: dict[str, str] = {}
    clean_name = _check_name(name, errors)
    check_steps(owner, steps, errors)
    for index, step in enumerate(steps):
        if step.id is not None:
            errors[f"steps[{index}].id"] = "A new campaign's steps have no id."
    if errors:
        raise CampaignError(errors)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            owner=owner,
            name=clean_name,
            skip_weekends=skip_weekends,
            shared_with_team=shared_with_team,
        )
        for position, spec in enumerate(steps):
            _save_step(campaign, position, spec, None)
    return campaign


def _save_step(campaign: Campaign, position: int, spec: StepSpec, step: Step | None) -> Step:
    values = {
        "position": position,
        "day": spec.day,
        "type": spec.type,
        "time": spec.time,
        "subject": spec.subject,
        "body_text": spec.body_text,
        "body_html": spec.body_html,
        "thread": spec.thread,
        "notes": spec.notes,
    }
    if step is None:
        step = Step.objects.create(campaign=campaign, **values)
    else:
        Step.objects.filter(pk=step.pk).update(**values)
    existing = {v.index: v for v in step.variants.all()}
    for index, variant in enumerate(spec.variants):
        Variant.objects.update_or_create(
            step=step,
            index=index,
            defaults={
                "subject": variant.subject,
                "body_text": variant.body_text,
                "body_html": variant.body_html,
            },
        )
    for index, old in existing.items():
        if index >= len(spec.variants):
            old.delete()
    return step


def standing_on(step_ids: Sequence[int]) -> dict[int, int]:
    """step id -> how many live enrolments stand on it."""
    counts: dict[int, int] = {}
    for step_id in Enrolment.objects.filter(
        next_step_id__in=list(step_ids), state__in=sorted(LIVE)
    ).values_list("next_step_id", flat=True):
        if step_id is not None:
            counts[step_id] = counts.get(step_id, 0) + 1
    return counts


def update_campaign(
    owner: User,
    campaign: Campaign,
    *,
    name: object = None,
    skip_weekends: bool | None = None,
    shared_with_team: bool | None = None,
    steps: Sequence[StepSpec] | None = None,
    strand_to: int | None = None,
) -> Campaign:
    """Rename, change options, or replace the steps (existing ones by id, kept in place;
    new ones without). Removing or reordering steps people stand on is refused with the
    number of people it would strand, unless `strand_to` (an index into the new steps)
    says where they go."""
    errors: dict[str, str] = {}
    clean_name = _check_name(name, errors) if name is not None else None
    if steps is not None:
        check_steps(owner, steps, errors)
        _check_step_ids(campaign, steps, errors)
        if strand_to is not None and not 0 <= strand_to < len(steps):
            errors["strand_to"] = f"An index of the new steps, 0 to {len(steps) - 1}."
    if errors:
        raise CampaignError(errors)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if steps is not None:
            _replace_steps(locked, steps, strand_to)
        changes: dict[str, object] = {"updated_at": timezone.now()}
        if clean_name is not None:
            changes["name"] = clean_name
        if skip_weekends is not None:
            changes["skip_weekends"] = skip_weekends
        if shared_with_team is not None:
            changes["shared_with_team"] = shared_with_team
        Campaign.objects.filter(pk=campaign.pk).update(**changes)
    campaign.refresh_from_db()
    return campaign


def _check_step_ids(campaign: Campaign, steps: Sequence[StepSpec], errors: dict[str, str]) -> None:
    ours = set(campaign.steps.values_list("pk", flat=True))
    seen: set[int] = set()
    for index, spec in enumerate(steps):
        if spec.id is None:
            continue
        if spec.id not in ours:
            errors[f"steps[{index}].id"] = f"Step {spec.id} is not a step of this campaign."
        elif spec.id in seen:
            errors[f"steps[{index}].id"] = f"Step {spec.id} is listed twice."
        seen.add(spec.id)


def _replace_steps(campaign: Campaign, steps: Sequence[StepSpec], strand_to: int | None) -> None:
    current = list(campaign.steps.order_by("position"))
    kept_ids = [spec.id for spec in steps if spec.id is not None]
    removed = [s for s in current if s.pk not in kept_ids]
    kept_order_before = [s.pk for s in current if s.pk in kept_ids]
    moved = [] if kept_ids == kept_order_before else [s for s in current if s.pk in kept_ids]
    affected = standing_on([s.pk for s in removed + moved])
    stranded = sum(affected.values())
    if stranded and strand_to is None:
        raise CampaignError(
            {
                "steps": f"{stranded} people stand on steps this change removes or reorders; "
                "say where they go (strand_to: the index of a new step)."
            },
            conflict=True,
        )
    by_id = {s.pk: s for s in current}
    saved = [
        _save_step(campaign, position, spec, by_id.get(spec.id) if spec.id else None)
        for position, spec in enumerate(steps)
    ]
    if stranded and strand_to is not None:
        Enrolment.objects.filter(next_step_id__in=list(affected), state__in=sorted(LIVE)).update(
            next_step=saved[strand_to], phase=Enrolment.Phase.DUE, next_at=timezone.now()
        )
    for step in removed:
        if _step_has_history(step):
            # Emails and tasks keep their step: park it past the end instead of deleting.
            Step.objects.filter(pk=step.pk).update(position=100_000 + step.pk, day=MAX_DAY + 1)
        else:
            step.delete()


def _step_has_history(step: Step) -> bool:
    from commandcenter.outbox.models import Email
    from commandcenter.tasks.models import Task

    return (
        Email.objects.filter(step=step).exists()
        or Task.objects.filter(step=step).exists()
        or Enrolment.objects.filter(next_step=step).exists()
    )


def live_steps(campaign: Campaign) -> list[Step]:
    """The steps people go through (removed steps with history are parked past MAX_DAY)."""
    return list(campaign.steps.filter(day__lte=MAX_DAY).order_by("position"))


def pause(campaign: Campaign) -> Campaign:
    """Nothing of the campaign runs while it is paused; each person keeps their place."""
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.ACTIVE).update(
        status=Campaign.Status.PAUSED, updated_at=timezone.now()
    )
    campaign.refresh_from_db()
    return campaign


def resume(campaign: Campaign) -> Campaign:
    """Everyone goes on from their own place: a step that fell due during the pause is due
    now (not at its old time, which the late limit would refuse), the rest keep theirs."""
    now = timezone.now()
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.PAUSED).update(
            status=Campaign.Status.ACTIVE, updated_at=now
        )
        Enrolment.objects.filter(
            campaign=campaign, state=State.ACTIVE, phase=Enrolment.Phase.DUE, next_at__lt=now
        ).update(next_at=now)
    campaign.refresh_from_db()
    return campaign


def stop(campaign: Campaign) -> Campaign:
    """Stop for good: everyone still in it exits ("campaign stopped"), and what it had
    scheduled leaves Scheduled. A stopped campaign takes no one new."""
    from commandcenter.campaigns.reactions import end_enrolments
    from commandcenter.campaigns.states import ExitReason

    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            status=Campaign.Status.STOPPED, updated_at=timezone.now()
        )
        live = list(
            Enrolment.objects.filter(campaign=campaign, state__in=sorted(LIVE)).values_list(
                "pk", flat=True
            )
        )
        end_enrolments(live, ExitReason.STOPPED, f"campaign ended: {campaign.name} was stopped")
    campaign.refresh_from_db()
    return campaign


def visible_campaigns(user: User, owner_ids: Sequence[int]) -> Q:
    """Campaigns a user may see: their own (or those of whom they view as), and the team's
    shared ones."""
    q = Q(owner_id__in=list(owner_ids))
    if user.team_id is not None:
        q |= Q(shared_with_team=True, owner__team_id=user.team_id)
    return q
