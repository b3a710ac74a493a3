"""Campaign test helpers: a campaign from a short description, a pass of the engine and the
sender against a loopback SMTP sink, inbound mail from the people."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.models import Campaign
from commandcenter.delivery.testing import SmtpSink


def three_steps(owner: User, *, skip_weekends: bool = True, name: str = "Q1 outreach") -> Campaign:
    """Email on day 1, call on day 3, threaded email on day 5 (the issue's campaign)."""
    return create_campaign(
        owner,
        name=name,
        skip_weekends=skip_weekends,
        steps=[
            StepSpec(
                day=1,
                type="auto_email",
                time=dt.time(9, 0),
                subject="Hello {{first_name}}",
                body_text="Hi {{first_name}}, a quick question about {{company}}.",
            ),
            StepSpec(day=3, type="call", time=dt.time(10, 0), notes="Ask about the pilot."),
            StepSpec(
                day=5,
                type="auto_email",
                time=dt.time(9, 0),
                thread=True,
                body_text="Following up, {{first_name}}.",
            ),
        ],
    )


def send_through(settings: Any, port: int) -> None:
    """The sender talks plain SMTP to a server on this loopback port."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""


@pytest.fixture
def sink(settings: SettingsWrapper) -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        send_through(settings, running.port)
        yield running
