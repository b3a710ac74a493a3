"""Helpers for the sender's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.outbox.compose import compose_single
from commandcenter.outbox.models import Email
from commandcenter.people.models import Person
from commandcenter.people.services import people_by_address


def point_at(settings: SettingsWrapper, port: int, *, timeout: int = 1) -> None:
    """Send through Django's SMTP backend to 127.0.0.1:port (tests run with locmem)."""
    settings.EMAIL_BACKEND = "commandcenter.delivery.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = timeout


def scheduled_email(user: User, to: str = "carol@example.org", **fields: Any) -> Email:
    """A scheduled email, due now, made the way the API makes it; `fields` then overwrite.

    The recipient is a person named Carol at Acme (merge fields must not come out empty)."""
    person = people_by_address(user, [to.lower()])[to.lower()]
    Person.objects.filter(pk=person.pk, first_name="").update(first_name="Carol", company="Acme")
    email = compose_single(
        user,
        to=to,
        subject=fields.pop("subject", "Hello {{first_name}}"),
        body_text=fields.pop("body_text", "Hi {{first_name}}, about {{company}}."),
        body_html=fields.pop("body_html", ""),
    )
    if fields:
        Email.objects.filter(pk=email.pk).update(**fields)
        email.refresh_from_db()
    return email


def minutes_ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)
