"""The People list: search (names, address, company, custom fields) and what each row shows —
the person's last email, their engagement, and badges for bounced, suppressed, unsubscribed
and do-not-contact with the reason and the date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from commandcenter.outbox.models import Email
from commandcenter.outbox.reasons import explain
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression
from commandcenter.people.services import suppressions_for
from commandcenter.web.when import formatted


def people_list(owner_ids: Iterable[int], search: str) -> QuerySet[Person]:
    people = Person.objects.filter(owner_id__in=list(owner_ids))
    if search:
        people = people.annotate(custom_text=Cast("custom_fields", TextField())).filter(
            Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(company__icontains=search)
            | Q(title__icontains=search)
            | Q(custom_text__icontains=search)
        )
    return people


@dataclass
class Badge:
    key: str
    label: str
    # Why and since when, for the rep to read beside the badge.
    note: SafeString | str = ""
    suppression: Suppression | None = None


@dataclass
class PersonRow:
    person: Person
    last_email: Email | None = None
    last_when: str = ""
    opens: int = 0
    clicks: int = 0
    replies: int = 0
    emails: int = 0
    badges: list[Badge] = field(default_factory=list)


def person_rows(people: list[Person]) -> list[PersonRow]:
    """Rows for a page of people, in three queries whatever the page size."""
    ids = [person.pk for person in people]
    totals = {
        row["person_id"]: row
        for row in Email.objects.visible()
        .filter(person_id__in=ids)
        .values("person_id")
        .annotate(
            n=Count("id"),
            opens=Sum("opens"),
            clicks=Sum("clicks"),
            replies=Sum("replies"),
            bounced=Count("id", filter=Q(status=Status.BOUNCED)),
        )
        .order_by()
    }
    last: dict[int, Email] = {}
    for email in (
        Email.objects.visible()
        .filter(person_id__in=ids)
        .exclude(status=Status.DRAFT)
        .order_by("person_id", "-sort_at", "-id")
        .only("id", "person_id", "subject", "status", "sort_at")
    ):
        last.setdefault(email.person_id, email)
    suppressed = suppressions_for(person.email for person in people)
    rows = []
    for person in people:
        total = totals.get(person.pk, {})
        latest = last.get(person.pk)
        rows.append(
            PersonRow(
                person,
                last_email=latest,
                last_when=formatted(latest.sort_at, "short") if latest else "",
                opens=total.get("opens") or 0,
                clicks=total.get("clicks") or 0,
                replies=total.get("replies") or 0,
                emails=total.get("n") or 0,
                badges=_badges(person, total.get("bounced") or 0, suppressed),
            )
        )
    return rows


def _badges(person: Person, bounced: int, suppressed: dict[str, Suppression]) -> list[Badge]:
    badges = []
    if person.do_not_contact:
        when = formatted(person.do_not_contact_at, "short") if person.do_not_contact_at else ""
        note = " · ".join(part for part in (person.do_not_contact_reason, when) if part)
        badges.append(Badge("dnc", _("Do not contact"), note))
    if person.unsubscribed_at:
        badges.append(
            Badge("unsubscribed", _("Unsubscribed"), formatted(person.unsubscribed_at, "short"))
        )
    suppression = suppressed.get(person.email.lower())
    if suppression is not None:
        note = format_html(
            "{} · {}",
            explain(suppression.reason).html(),
            formatted(suppression.created_at, "short"),
        )
        badges.append(Badge("suppressed", _("Suppressed"), note, suppression))
    if bounced:
        badges.append(Badge("bounced", _("Bounced")))
    return badges
