"""Finding and creating people, and the one rule for who must not be mailed."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from commandcenter.accounts.models import User
from commandcenter.people.models import Person, Suppression, SuppressionEvent

MAX_ADDRESS = 254


def normalise_address(raw: object) -> str:
    """A lower-cased, validated address; ValidationError naming the bad value otherwise."""
    if not isinstance(raw, str):
        raise ValidationError(_("%(value)r is not an email address.") % {"value": raw})
    address = raw.strip()
    if len(address) > MAX_ADDRESS:
        # validate_email allows 320; the email columns (and SMTP paths) hold 254.
        raise ValidationError(
            _("An email address has at most %(n)d characters.") % {"n": MAX_ADDRESS}
        )
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError(
            _("%(value)r is not a valid email address.") % {"value": address[:254]}
        ) from None
    return address.lower()


def people_by_address(owner: User, addresses: Iterable[str]) -> dict[str, Person]:
    """The owner's people for these (lower-cased) addresses, creating the missing ones."""
    wanted = list(dict.fromkeys(addresses))
    found = _existing_people(owner, wanted)
    missing = [Person(owner=owner, email=address) for address in wanted if address not in found]
    if missing:
        # ignore_conflicts: another request may create the same person at the same moment.
        Person.objects.bulk_create(missing, ignore_conflicts=True)
        found = _existing_people(owner, wanted)
    return found


def _existing_people(owner: User, addresses: list[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        rows = Person.objects.annotate(address=Lower("email")).filter(
            owner=owner, address__in=chunk
        )
        found.update({person.email.lower(): person for person in rows})
    return found


def suppression_for(address: str) -> Suppression | None:
    address = address.lower()
    domain = address.rpartition("@")[2]
    return (
        Suppression.objects.filter(value__in=[address, domain])
        .order_by("kind")  # "address" sorts before "domain": the more specific reason wins
        .first()
    )


def blocking_reason(person: Person, address: str | None = None) -> str | None:
    """Why no email may go to this person, in words for the rep; None when mail may go."""
    if person.unsubscribed_at:
        return f"Recipient unsubscribed on {person.unsubscribed_at:%Y-%m-%d}."
    if person.do_not_contact:
        note = " ".join(person.do_not_contact_reason.split())
        return (
            f"Recipient is marked do-not-contact: {note}"
            if note
            else ("Recipient is marked do-not-contact.")
        )
    suppression = suppression_for(address or person.email)
    if suppression is None:
        return None
    if suppression.kind == Suppression.Kind.DOMAIN:
        return f"Recipient's domain {suppression.value} is blocked: {suppression.reason}"
    since = f"{suppression.created_at:%Y-%m-%d}"
    return f"Recipient is on the suppression list since {since}: {suppression.reason}"


def blocking_reasons(people: Iterable[Person]) -> dict[int, str]:
    """blocking_reason for many people in two queries: person id -> reason, blocked ones only."""
    people = list(people)
    reasons: dict[int, str] = {}
    keys: set[str] = set()
    for person in people:
        address = person.email.lower()
        keys.update({address, address.rpartition("@")[2]})
    suppressions = {s.value: s for s in Suppression.objects.filter(value__in=keys)}
    for person in people:
        if person.unsubscribed_at or person.do_not_contact:
            reasons[person.pk] = blocking_reason(person) or ""
            continue
        address = person.email.lower()
        if address in suppressions or address.rpartition("@")[2] in suppressions:
            reasons[person.pk] = blocking_reason(person) or ""
    return reasons


def unsubscribe_address(address: str) -> int:
    """Unsubscribe everyone with this address, whoever's prospect they are: the recipient
    asked the organisation, not one rep, to stop. Keeps the first date; how many changed."""
    return Person.objects.filter(
        email__iexact=address.strip(), unsubscribed_at__isnull=True
    ).update(unsubscribed_at=timezone.now())


def set_do_not_contact(person: Person, on: bool, reason: str = "") -> None:
    """Mark (with why and since when) or unmark a person as do-not-contact."""
    person.do_not_contact = on
    person.do_not_contact_reason = " ".join(reason.split())[:500] if on else ""
    person.do_not_contact_at = timezone.now() if on else None
    person.save(
        update_fields=["do_not_contact", "do_not_contact_reason", "do_not_contact_at", "updated_at"]
    )


class NotAllowed(Exception):
    """A user asked for something only an admin may do."""


def lift_suppression(by: User, suppression: Suppression, reason: str) -> SuppressionEvent:
    """Take an address (or domain) off the suppression list: an admin's deliberate act, with
    its reason kept as an event. Mail may go to it again afterwards."""
    if not by.is_admin:
        raise NotAllowed(_("Only an admin can lift a suppression."))
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(_("Say why the suppression is lifted."))
    with transaction.atomic():
        event = SuppressionEvent.objects.create(
            value=suppression.value,
            kind=SuppressionEvent.Kind.LIFTED,
            reason=reason[:500],
            previous_reason=suppression.reason[:500],
            by=by,
        )
        suppression.delete()
    return event


def suppressions_for(addresses: Iterable[str]) -> dict[str, Suppression]:
    """The suppression that applies to each address (its own, else its domain's); address ->
    suppression, suppressed ones only."""
    wanted = {address.lower() for address in addresses}
    keys = wanted | {address.rpartition("@")[2] for address in wanted}
    found = {s.value: s for s in Suppression.objects.filter(value__in=keys)}
    result = {}
    for address in wanted:
        match = found.get(address) or found.get(address.rpartition("@")[2])
        if match is not None:
            result[address] = match
    return result
