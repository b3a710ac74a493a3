"""Unsubscribing: by the page, by the RFC 8058 one-click POST, or by mail to the mailto
address of List-Unsubscribe. The sender then refuses the person: their pending emails go to
Failed with the reason when they come due."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import transaction

from commandcenter.outbox.models import Email
from commandcenter.people.models import Person
from commandcenter.people.services import unsubscribe_address
from commandcenter.signals.record import record_signal

# Email.token and TrackedLink.token are secrets.token_urlsafe(); anything else is garbage.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
VIA_LABELS = {
    "one_click": "the one-click unsubscribe of their mail app (RFC 8058)",
    "page": "the unsubscribe page",
    "mailto": "an email to the unsubscribe address",
}


def is_token(raw: str) -> bool:
    return bool(TOKEN.fullmatch(raw))


def email_for_token(token: str) -> Email | None:
    if not is_token(token):
        return None
    return Email.objects.select_related("person", "owner").filter(token=token).first()


def token_from_mailto(address: str) -> str | None:
    """The email token in unsubscribe+TOKEN@BOUNCE_DOMAIN (for the inbound mail paths)."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    prefix, _, token = local.partition("+")
    if prefix.lower() != "unsubscribe" or domain.lower() != settings.BOUNCE_DOMAIN.lower():
        return None
    return token if is_token(token) else None


def unsubscribe(email: Email, *, via: str, payload: str = "") -> bool:
    """Unsubscribes the email's recipient: every person with that address, whoever's prospect
    they are (the organisation was asked, not one rep). True when this call did it."""
    with transaction.atomic():
        if not unsubscribe_address(email.person.email):
            return False
        record_signal(
            email,
            "unsubscribed",
            detail=f"The recipient unsubscribed through {VIA_LABELS.get(via, via)}.",
            payload=payload,
            data={"via": via, "address": email.person.email},
        )
    return True


def is_unsubscribed(email: Email) -> bool:
    return (
        Person.objects.filter(pk=email.person_id).values_list("unsubscribed_at", flat=True).first()
        is not None
    )
