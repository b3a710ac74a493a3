"""An API client that speaks HTTP through Django's test client, and emails in any folder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user, issue_api_token
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.people.services import people_by_address

NOTHING = object()


@dataclass
class Answer:
    status_code: int
    data: Any  # the JSON body, parsed; None when there is none
    content: bytes
    headers: Mapping[str, str]


class Api:
    """`api.post("/emails", alice, {...})` -> the response, with `.data` parsed from JSON."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.tokens: dict[int, str] = {}

    def token(self, user: User) -> str:
        """The user's API token, issued on first use (only its digest is stored)."""
        if user.pk not in self.tokens:
            self.tokens[user.pk] = issue_api_token(user)
        return self.tokens[user.pk]

    def call(
        self,
        method: str,
        path: str,
        user: User | None = None,
        body: Any = NOTHING,
        *,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        all_headers = dict(headers or {})
        if user is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token(user)}")
        data: bytes | str = b""
        if raw is not None:
            data = raw
        elif body is not NOTHING:
            data = json.dumps(body)
        response = self.client.generic(
            method, "/api/v1" + path, data, content_type=content_type, headers=all_headers
        )
        is_json = response.get("Content-Type", "").startswith("application/json")
        return Answer(
            status_code=response.status_code,
            data=json.loads(response.content) if is_json and response.content else None,
            content=response.content,
            headers=response.headers,
        )

    def get(self, path: str, user: User | None = None, **kwargs: Any) -> Answer:
        return self.call("GET", path, user, **kwargs)

    def post(self, path: str, user: User | None = None, body: Any = NOTHING, **kw: Any) -> Answer:
        return self.call("POST", path, user, body, **kw)

    def patch(self, path: str, user: User | None = None, body: Any = NOTHING, **kw: Any) -> Answer:
        return self.call("PATCH", path, user, body, **kw)

    def delete(self, path: str, user: User | None = None, **kwargs: Any) -> Answer:
        return self.call("DELETE", path, user, **kwargs)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def carol(db: None) -> User:
    """An admin of another team."""
    return create_user(
        "carol", email="carol@example.com", password="carol-pass", admin=True, team_name="other"
    )


def email_in(status: str, owner: User, to: str = "pat@prospect.example", **fields: Any) -> Email:
    """An email put straight into `status`, as the sender or a signal would leave it."""
    person = people_by_address(owner, [to])[to]
    now = timezone.now()
    values: dict[str, Any] = {
        "owner": owner,
        "person": person,
        "to_address": to,
        "subject": "Quick question",
        "body_text": "Hello",
        "status": status,
        "send_at": now,
        "due_at": now if status == Status.SCHEDULED else None,
        "sent_at": now if status in {Status.DELIVERED, Status.ARCHIVED} else None,
        "failed_at": now if status in {Status.FAILED, Status.BOUNCED, Status.SPAM} else None,
        "reason": "550 no such user" if status in {Status.FAILED, Status.BOUNCED} else "",
        "sort_at": now,
    }
    values.update(fields)
    email = Email.objects.create(**values)
    Event.objects.create(email=email, kind="created", to_status=status, created_at=now)
    return email


def counts() -> dict[str, int]:
    """Rows a refused request must not have written."""
    return {
        "emails": Email.objects.count(),
        "events": Event.objects.count(),
        "people": Person.objects.count(),
        "batches": Batch.objects.count(),
    }
