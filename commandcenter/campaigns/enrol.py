"""Putting people into a campaign and taking them out.

Hundreds in one request: each is enrolled, or refused with the reason (suppressed,
do-not-contact, unsubscribed, already in the campaign), and the others go in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.campaigns import schedule
from commandcenter.campaigns.builder import CampaignError, live_steps
from commandcenter.campaigns.models import Campaign, Enrolment, EnrolmentEvent, Step
from commandcenter.campaigns.states import LIVE, ExitReason, State
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reasons, normalise_address, people_by_address

MAX_ENROL = 5000


@dataclass
class Refusal:
    address: str
    reason: str


@dataclass
class EnrolResult:
    enrolled: list[Enrolment] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _addresses(raw: Sequence[object], errors: dict[str, str]) -> list[str]:
    if not raw:
        errors["people"] = "Name at least one person to enrol."
    if len(raw) > MAX_ENROL:
        errors["people"] = f"At most {MAX_ENROL:,} people in one request; got {len(raw):,}."
        return []
    addresses: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            address = normalise_address(item)
        except ValidationError as error:
            errors[f"people[{index}]"] = error.messages[0]
            continue
        if address in seen:
            errors[f"people[{index}]"] = f"{address} is listed twice."
        seen.add(address)
        addresses.append(address)
    return addresses


def enrol(user: User, campaign: Campaign, raw_addresses: Sequence[object]) -> EnrolResult:
    """Enrol the user's people (found by address, or created) in the campaign."""
    errors: dict[str, str] = {}
    addresses = _addresses(raw_addresses, errors)
    steps = live_steps(campaign)
    if not steps:
        errors["campaign"] = "The campaign has no steps."
    if campaign.status == Campaign.Status.STOPPED:
        raise CampaignError(
            {"campaign": "The campaign was stopped; it takes no one new."}, conflict=True
        )
    if errors:
        raise CampaignError(errors)
    try:
        with transaction.atomic():
            return _enrol(user, campaign, addresses, steps[0])
    except IntegrityError:
        raise CampaignError(
            {"people": "Someone enrolled some of these people at the same moment; try again."},
            conflict=True,
        ) from None


def _enrol(user: User, campaign: Campaign, addresses: list[str], first: Step) -> EnrolResult:
    result = EnrolResult()
    people = people_by_address(user, addresses)
    blocked = blocking_reasons(people.values())
    already = set(
        Enrolment.objects.filter(
            campaign=campaign, person_id__in=[p.pk for p in people.values()], state__in=sorted(LIVE)
        ).values_list("person_id", flat=True)
    )
    seed = Enrolment.objects.filter(campaign=campaign).count()
    now = timezone.now()
    new: list[Enrolment] = []
    for address in addresses:
        person = people[address]
        if person.pk in blocked:
            result.refused.append(Refusal(address, blocked[person.pk]))
        elif person.pk in already:
            result.refused.append(Refusal(address, "Already in this campaign."))
        else:
            new.append(_new_enrolment(user, campaign, person, first, seed + len(new), now))
    Enrolment.objects.bulk_create(new, batch_size=500)
    if not all(e.pk for e in new):
        # Databases that do not return ids from a bulk insert: read them back.
        ids = dict(
            Enrolment.objects.filter(
                campaign=campaign, person_id__in=[e.person_id for e in new], state=State.ACTIVE
            ).values_list("person_id", "pk")
        )
        for enrolment in new:
            enrolment.pk = ids[enrolment.person_id]
    EnrolmentEvent.objects.bulk_create(
        [
            EnrolmentEvent(
                enrolment_id=e.pk,
                kind="enrolled",
                to_state=State.ACTIVE,
                data={"by": user.username},
                created_at=now,
            )
            for e in new
        ],
        batch_size=500,
    )
    result.enrolled = new
    return result


def _new_enrolment(
    user: User, campaign: Campaign, person: Person, first: Step, seed: int, now: dt.datetime
) -> Enrolment:
    where = schedule.zone_for(person, user)
    started_on = schedule.first_day(
        now.astimezone(where).date(), skip_weekends=campaign.skip_weekends
    )
    planned = schedule.planned_at(
        started_on, first.day, first.time, where, skip_weekends=campaign.skip_weekends
    )
    return Enrolment(
        campaign=campaign,
        person=person,
        owner=user,
        state=State.ACTIVE,
        started_on=started_on,
        zone=str(where.key),
        enrolled_at=now,
        variant_seed=seed,
        next_step=first,
        phase=Enrolment.Phase.DUE,
        # Day 1 as soon as its day begins: now, not the midnight that has passed.
        next_at=max(planned, now),
    )


def remove(user: User, enrolment: Enrolment) -> bool:
    """Removed by hand: the person exits, and what the campaign had scheduled for them
    leaves Scheduled and their open tasks are skipped, each saying why."""
    from commandcenter.campaigns.reactions import end_enrolments

    reason = f"campaign ended: removed from the campaign by {user.display_name}"
    return bool(end_enrolments([enrolment.pk], ExitReason.REMOVED, reason))
