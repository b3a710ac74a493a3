"""Campaigns under /api/v1/campaigns: steps, enrolments, statistics. Thin handlers: the rules
live in commandcenter.campaigns."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja import Status as Reply
from ninja.errors import HttpError
from pydantic import StrictBool, StrictInt

from commandcenter.api.auth import viewer
from commandcenter.api.errors import BadInput
from commandcenter.api.pagination import MAX_ID
from commandcenter.api.schemas import Input, Text, answers
from commandcenter.campaigns import builder, enrol, queries, throttle
from commandcenter.campaigns.builder import CampaignError, StepSpec, VariantSpec
from commandcenter.campaigns.models import Campaign, Enrolment, SendingPolicy
from commandcenter.people.services import normalise_address

router = Router(tags=["campaigns"])

StepType = Literal["auto_email", "manual_email", "call", "linkedin", "custom"]


class VariantIn(Input):
    subject: Text
    body_text: Text = ""
    body_html: Text = ""


class StepIn(Input):
    id: StrictInt | None = Field(None, description="PATCH: an existing step to keep.")
    day: StrictInt
    type: StepType
    time: Text | None = Field(
        None, description="HH:MM in the recipient's zone; absent: as the day begins."
    )
    subject: Text = ""
    body_text: Text = ""
    body_html: Text = ""
    thread: StrictBool = False
    notes: Text = ""
    variants: list[VariantIn] = []


class CampaignIn(Input):
    name: Text
    skip_weekends: StrictBool = False
    shared_with_team: StrictBool = False
    steps: list[StepIn]


class CampaignPatch(Input):
    name: Text | None = None
    skip_weekends: StrictBool | None = None
    shared_with_team: StrictBool | None = None
    steps: list[StepIn] | None = None
    strand_to: StrictInt | None = Field(
        None, description="Where people on removed or reordered steps go: an index of `steps`."
    )


class EnrolIn(Input):
    people: list[Any] = Field(description="Addresses.")


class StepOut(Schema):
    id: int
    position: int
    day: int
    type: str
    time: str | None
    subject: str
    body_text: str
    body_html: str
    thread: bool
    notes: str
    variants: list[dict[str, Any]]


class CampaignOut(Schema):
    id: int
    name: str
    owner: str
    status: str
    skip_weekends: bool
    shared_with_team: bool
    created_at: dt.datetime
    steps: list[StepOut]
    stats: dict[str, Any]


class EnrolmentOut(Schema):
    id: int
    person: str
    state: str
    reason: str
    exit_reason: str
    paused_until: dt.datetime | None
    next_step: int | None
    next_step_label: str | None
    next_at: dt.datetime | None
    started_on: dt.date
    zone: str


class EnrolOut(Schema):
    enrolled: list[EnrolmentOut]
    refused: list[dict[str, str]]


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    steps = [
        {
            "id": s.pk,
            "position": s.position,
            "day": s.day,
            "type": s.type,
            "time": s.time.strftime("%H:%M") if s.time else None,
            "subject": s.subject,
            "body_text": s.body_text,
            "body_html": s.body_html,
            "thread": s.thread,
            "notes": s.notes,
            "variants": [
                {
                    "id": v.pk,
                    "letter": v.letter,
                    "subject": v.subject,
                    "body_text": v.body_text,
                    "body_html": v.body_html,
                }
                for v in s.variants.all()
            ],
        }
        for s in builder.live_steps(campaign)
    ]
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "owner": campaign.owner.username,
        "status": campaign.status,
        "skip_weekends": campaign.skip_weekends,
        "shared_with_team": campaign.shared_with_team,
        "created_at": utc(campaign.created_at),
        "steps": steps,
        "stats": queries.campaign_stats(campaign),
    }


def enrolment_json(e: Enrolment) -> dict[str, Any]:
    return {
        "id": e.pk,
        "person": e.person.email,
        "state": e.state,
        "reason": e.reason,
        "exit_reason": e.exit_reason,
        "paused_until": utc(e.paused_until),
        "next_step": e.next_step_id if e.state in ("active", "paused") else None,
        "next_step_label": e.next_step.label
        if e.next_step and e.state in ("active", "paused")
        else None,
        "next_at": utc(e.next_at) if e.state in ("active", "paused") else None,
        "started_on": e.started_on,
        "zone": e.zone,
    }


def step_specs(steps: list[StepIn]) -> list[StepSpec]:
    errors: dict[str, str] = {}
    specs = []
    for index, step in enumerate(steps):
        time = None
        if step.time:
            try:
                time = builder.parse_time(step.time)
            except ValueError as error:
                errors[f"steps[{index}].time"] = str(error)
        specs.append(
            StepSpec(
                id=step.id,
                day=step.day,
                type=step.type,
                time=time,
                subject=step.subject,
                body_text=step.body_text,
                body_html=step.body_html,
                thread=step.thread,
                notes=step.notes,
                variants=[VariantSpec(v.subject, v.body_text, v.body_html) for v in step.variants],
            )
        )
    if errors:
        raise BadInput(errors)
    return specs


def raise_campaign_error(error: CampaignError) -> None:
    if error.conflict:
        raise HttpError(409, " ".join(error.errors.values()))
    raise BadInput(error.errors)


def campaign_or_404(request: HttpRequest, campaign_id: int, *, write: bool = False) -> Campaign:
    current = viewer(request)
    if write:
        condition = Q(owner_id=current.writer().pk)
    else:
        condition = builder.visible_campaigns(current.acting or current.user, current.owner_ids)
    campaign = None
    if 1 <= campaign_id <= MAX_ID:
        campaign = (
            Campaign.objects.select_related("owner").filter(condition, pk=campaign_id).first()
        )
    if campaign is None:
        raise HttpError(404, f"No campaign with id {campaign_id}.")
    return campaign


@router.post("/campaigns", response=answers({201: CampaignOut}), summary="Create a campaign")
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    try:
        campaign = builder.create_campaign(
            user,
            name=payload.name,
            steps=step_specs(payload.steps),
            skip_weekends=payload.skip_weekends,
            shared_with_team=payload.shared_with_team,
        )
    except CampaignError as error:
        raise_campaign_error(error)
    return Reply(201, campaign_json(campaign))


@router.get(
    "/campaigns", response=answers({200: list[CampaignOut]}), summary="Campaigns with statistics"
)
def list_campaigns(request: HttpRequest) -> list[dict[str, Any]]:
    current = viewer(request)
    condition = builder.visible_campaigns(current.acting or current.user, current.owner_ids)
    return [
        campaign_json(c)
        for c in Campaign.objects.filter(condition).select_related("owner").order_by("-pk")[:200]
    ]


@router.get(
    "/campaigns/{campaign_id}", response=answers({200: CampaignOut}, 404), summary="One campaign"
)
def get_campaign(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    return campaign_json(campaign_or_404(request, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}",
    response=answers({200: CampaignOut}, 404, 409),
    summary="Edit a campaign",
)
def patch_campaign(
    request: HttpRequest, campaign_id: int, payload: CampaignPatch
) -> dict[str, Any]:
    user = viewer(request).writer()
    campaign = campaign_or_404(request, campaign_id, write=True)
    changes = payload.model_dump(exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None]
    if nulls:
        raise BadInput(dict.fromkeys(nulls, "Must not be null; leave it out to keep it."))
    try:
        campaign = builder.update_campaign(
            user,
            campaign,
            name=payload.name,
            skip_weekends=payload.skip_weekends,
            shared_with_team=payload.shared_with_team,
            steps=step_specs(payload.steps) if payload.steps is not None else None,
            strand_to=payload.strand_to,
        )
    except CampaignError as error:
        raise_campaign_error(error)
    return campaign_json(campaign)


@router.post(
    "/campaigns/{campaign_id}/pause", response=answers({200: CampaignOut}, 404), summary="Pause"
)
def pause_campaign(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    return campaign_json(builder.pause(campaign_or_404(request, campaign_id, write=True)))


@router.post(
    "/campaigns/{campaign_id}/resume", response=answers({200: CampaignOut}, 404), summary="Resume"
)
def resume_campaign(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    return campaign_json(builder.resume(campaign_or_404(request, campaign_id, write=True)))


@router.post(
    "/campaigns/{campaign_id}/stop",
    response=answers({200: CampaignOut}, 404),
    summary="Stop for good: everyone exits",
)
def stop_campaign(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    return campaign_json(builder.stop(campaign_or_404(request, campaign_id, write=True)))


@router.post(
    "/campaigns/{campaign_id}/enrolments",
    response=answers({201: EnrolOut}, 404, 409),
    summary="Enrol people by address",
)
def enrol_people(request: HttpRequest, campaign_id: int, payload: EnrolIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    campaign = campaign_or_404(request, campaign_id)
    try:
        result = enrol.enrol(user, campaign, payload.people)
    except CampaignError as error:
        raise_campaign_error(error)
    people = {e.person_id: e.person for e in result.enrolled}
    for e in result.enrolled:
        e.person = people[e.person_id]
    return Reply(
        201,
        {
            "enrolled": [enrolment_json(e) for e in result.enrolled],
            "refused": [{"address": r.address, "reason": r.reason} for r in result.refused],
        },
    )


@router.get(
    "/campaigns/{campaign_id}/enrolments",
    response=answers({200: list[EnrolmentOut]}, 404),
    summary="The campaign's people, their state and next step",
)
def list_enrolments(
    request: HttpRequest, campaign_id: int, state: str = "", limit: int = 1000
) -> list[dict[str, Any]]:
    campaign = campaign_or_404(request, campaign_id)
    current = viewer(request)
    rows = Enrolment.objects.filter(campaign=campaign)
    if campaign.owner_id not in current.owner_ids:
        # A teammate's shared campaign: only one's own people in it.
        rows = rows.filter(owner_id__in=current.owner_ids)
    if state:
        rows = rows.filter(state=state)
    rows = rows.select_related("person", "next_step").order_by("pk")[: max(1, min(limit, 5000))]
    return [enrolment_json(e) for e in rows]


@router.delete(
    "/campaigns/{campaign_id}/enrolments/{who}",
    response=answers({204: None}, 404, 409),
    summary="Remove a person from the campaign (by address or enrolment id)",
)
def remove_enrolment(request: HttpRequest, campaign_id: int, who: str) -> Reply[None]:
    user = viewer(request).writer()
    campaign = campaign_or_404(request, campaign_id)
    rows = Enrolment.objects.filter(campaign=campaign, owner=user)
    if who.isdigit() and int(who) <= MAX_ID:
        enrolment = rows.filter(pk=int(who)).first()
    else:
        try:
            address = normalise_address(who)
        except ValidationError:
            address = ""  # a bad address is simply not found
        enrolment = (
            rows.filter(person__email__iexact=address, state__in=["active", "paused"]).first()
            if address
            else None
        )
    if enrolment is None:
        raise HttpError(404, f"No one {who[:100]!r} in this campaign.")
    if not enrol.remove(user, enrolment):
        raise HttpError(409, f"This enrolment is already {enrolment.state}.")
    return Reply(204, None)


@router.get(
    "/campaigns/{campaign_id}/stats",
    response=answers({200: dict[str, Any]}, 404),
    summary="Statistics",
)
def campaign_stats(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    return queries.campaign_stats(campaign_or_404(request, campaign_id))


class PolicyIn(Input):
    days: list[StrictInt] | None = Field(None, description="Weekdays, 0 = Monday.")
    start_time: Text | None = Field(None, description="HH:MM in the recipient's zone.")
    end_time: Text | None = None
    daily_cap: StrictInt | None = None
    burst_count: StrictInt | None = None
    burst_seconds: StrictInt | None = None
    ooo_pause_days: StrictInt | None = None


def policy_json(policy: SendingPolicy) -> dict[str, Any]:
    return {
        "days": policy.days,
        "start_time": policy.start_time.strftime("%H:%M"),
        "end_time": policy.end_time.strftime("%H:%M"),
        "daily_cap": policy.daily_cap,
        "burst_count": policy.burst_count,
        "burst_seconds": policy.burst_seconds,
        "ooo_pause_days": policy.ooo_pause_days,
    }


@router.get(
    "/sending-policy",
    response=answers({200: dict[str, Any]}),
    summary="Your sending window and throttles (for campaign emails)",
)
def get_policy(request: HttpRequest) -> dict[str, Any]:
    user = viewer(request).writer()
    return policy_json(SendingPolicy.objects.filter(user=user).first() or SendingPolicy(user=user))


@router.patch(
    "/sending-policy", response=answers({200: dict[str, Any]}), summary="Change the window or caps"
)
def patch_policy(request: HttpRequest, payload: PolicyIn) -> dict[str, Any]:
    user = viewer(request).writer()
    fields: dict[str, Any] = payload.model_dump(exclude_unset=True)
    errors: dict[str, str] = {}
    for name in ("start_time", "end_time"):
        if name in fields:
            try:
                fields[name] = builder.parse_time(fields[name])
            except ValueError as error:
                errors[name] = str(error)
    if fields.get("ooo_pause_days") is not None and not 1 <= fields["ooo_pause_days"] <= 365:
        errors["ooo_pause_days"] = "From 1 to 365 days."
    if errors:
        raise BadInput(errors)
    try:
        return policy_json(throttle.save_policy(user.pk, **fields))
    except throttle.PolicyError as error:
        raise BadInput(error.errors) from None
