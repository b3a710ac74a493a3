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


# Subjects and first names in several scripts, long enough to fold, with header-special marks.
SUBJECTS_IN_ANY_SCRIPT = [
    ("Hello {{first_name}}", "Carol"),
    ("Grüße an {{first_name}} — über {{company}}", "Zoë"),
    ("A subject that is long enough to need folding at seventy-eight, {{first_name}}", "C"),
    ('Spaces  inside ;and, odd = marks "quoted" {{first_name}}', "<x@y>"),
    ("非常长的主题" * 12, "李"),
]


def email_in_any_script(user: User, subject: str, first_name: str, body_text: str) -> Email:
    """A scheduled email of a rep whose name needs encoding, to a person called `first_name`,
    with a tracked link; loaded as the sender loads it."""
    User.objects.filter(pk=user.pk).update(
        first_name="Alice Marie-Thérèse", last_name="O'Hara, Sales and Business Development"
    )
    email = scheduled_email(
        user,
        subject=subject,
        body_text=body_text,
        body_html="<p>Hi {{first_name}} <a href='https://example.com/x'>x</a></p>",
    )
    Person.objects.filter(pk=email.person_id).update(first_name=first_name)
    return Email.objects.select_related("person", "owner").get(pk=email.pk)
