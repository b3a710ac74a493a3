"""Fixtures for tracking: a private spool per test and delivered emails to track."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.outbox.compose import compose_single
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, transition
from commandcenter.tracking.views import recorded_link

HTML = (
    '<html><body><p>Hi Pat, see <a href="https://example.com/pricing?a=1&amp;b=2">pricing</a>'
    ' and <a href="https://example.com/demo">the demo</a>.</p></body></html>'
)
TEXT = "Hi Pat, see https://example.com/pricing?a=1&b=2 and https://example.com/demo."


@pytest.fixture(autouse=True)
def private_spool(settings: Any, tmp_path: Path) -> Path:
    """Each test its own spool, drained by the test itself, never by a background thread."""
    settings.TRACKING_SPOOL_DIR = tmp_path / "spool"
    settings.TRACKING_DRAIN_IN_WEB = False
    settings.TRACKING_RECORD = True
    settings.PUBLIC_URL = "https://cc.example.net"
    settings.BOUNCE_DOMAIN = "bounces.example.net"
    recorded_link.cache_clear()
    return tmp_path / "spool"


def deliver(email: Email, sent_ago: dt.timedelta = dt.timedelta(hours=1)) -> Email:
    """Moves a scheduled email to Delivered the way the sender does."""
    assert transition(email.pk, Status.IN_PROGRESS, kind="claimed")
    sent_at = timezone.now() - sent_ago
    assert transition(email.pk, Status.DELIVERED, kind="sent", updates={"sent_at": sent_at})
    email.refresh_from_db()
    return email


def delivered_email(owner: User, to: str = "pat@example.org", **content: str) -> Email:
    email = compose_single(
        owner,
        to=to,
        subject="Pricing",
        body_text=content.get("body_text", TEXT),
        body_html=content.get("body_html", HTML),
        send_at=timezone.now() + dt.timedelta(hours=1),
    )
    return deliver(email)


@pytest.fixture
def email(alice: User) -> Email:
    return delivered_email(alice)


@pytest.fixture
def client() -> Client:
    return Client(HTTP_USER_AGENT=CHROME)


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
