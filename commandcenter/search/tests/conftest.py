"""Emails with engagement, the API client, and the personas of the search tests."""

from __future__ import annotations

from typing import Any

import pytest

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.api.tests.conftest import Api, api, email_in  # noqa: F401 -- fixtures
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status

# Every search test: a private tracking spool and a browser-like client (tracking's own).
from commandcenter.tracking.tests.conftest import client, private_spool  # noqa: F401


@pytest.fixture
def carol(db: None) -> User:
    """A rep of another team."""
    return create_user("carol", email="carol@example.com", password="carol-pass", team_name="other")


def token_of(user: User) -> str:
    """The user's API token for a request made without the Api helper (issued anew where
    only a digest of it is stored)."""
    from commandcenter.accounts import services

    return services.issue_api_token(user)


def streamed(response: Any) -> bytes:
    """The whole body of a streamed response (CSV exports)."""
    return b"".join(response.streaming_content)


def engaged(
    owner: User,
    to: str,
    *,
    opens: int = 0,
    clicks: int = 0,
    replies: int = 0,
    machine_opens: int = 0,
    status: str = Status.DELIVERED,
    **fields: Any,
) -> Email:
    """A delivered email with events for its engagement (the triggers see them all)."""
    email = email_in(status, owner, to=to, opens=opens, clicks=clicks, replies=replies, **fields)
    at = email.sent_at or email.created_at
    events = (
        [("opened", {"machine": False})] * opens
        + [("clicked", {"machine": False})] * clicks
        + [("replied", {})] * replies
        + [("opened", {"machine": True, "reason": "Apple Mail Privacy Protection"})] * machine_opens
    )
    for kind, data in events:
        Event.objects.create(email=email, kind=kind, data=data, created_at=at)
    return email


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web UI in a real (headless) browser")
