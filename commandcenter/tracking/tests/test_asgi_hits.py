"""The pixel and click under ASGI (what `commandcenter serve` runs): answered by
tracking/asgi_hits.py with the same answers as the WSGI fast path, in one thread hop.

These tests call the project's real ASGI application (commandcenter.asgi) as granian does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from commandcenter import asgi
from commandcenter.asgi import application
from commandcenter.outbox.models import Email, Event
from commandcenter.tracking.asgi_hits import route_of
from commandcenter.tracking.hits import drain
from commandcenter.tracking.models import TrackedLink
from commandcenter.tracking.tests.conftest import CHROME
from commandcenter.tracking.views import GIF

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    path: str, *, method: str = "GET", client: str = "203.0.113.7", **headers: str
) -> dict[str, Any]:
    """One request through the ASGI application; its status, headers and body."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "http",
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"user-agent", CHROME.encode()),
            *(
                (name.replace("_", "-").lower().encode(), value.encode())
                for name, value in headers.items()
            ),
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    start, *bodies = sent
    return {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
        "body": b"".join(m.get("body", b"") for m in bodies),
    }


def test_the_pixel_is_answered_without_the_wsgi_bridge_and_the_open_recorded(
    email: Email, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_bridge(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError(f"{scope['path']} went through the WSGI bridge")

    monkeypatch.setattr(asgi, "wsgi_in_threads", no_bridge)

    answer = call(f"/t/o/{email.token}.gif", referer="https://mail.example/")

    assert (answer["status"], answer["body"]) == (200, GIF)
    assert answer["headers"]["content-type"] == "image/gif"
    assert "no-store" in answer["headers"]["cache-control"]
    assert drain() == 1
    (opened,) = Event.objects.filter(email=email, kind="opened")
    assert (opened.data["user_agent"], opened.data["ip"]) == (CHROME, "203.0.113.7")
    assert opened.data["referrer"] == "https://mail.example/"


def test_a_click_is_redirected_to_the_recorded_url_and_a_head_gets_no_body(email: Email) -> None:
    link = TrackedLink.objects.create(email=email, url="https://example.com/pricing", position=9)

    answer = call(f"/t/c/{link.token}")
    head = call(f"/t/c/{link.token}", method="HEAD")

    assert (answer["status"], answer["headers"]["location"]) == (302, link.url)
    assert head["status"] == 302 and head["body"] == b""
    drain()
    assert Event.objects.filter(email=email, kind="clicked").count() >= 1


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("127.0.0.1", "198.51.100.23", "198.51.100.23"),
        ("203.0.113.7", "198.51.100.23", "203.0.113.7"),
    ],
)
def test_the_client_behind_a_trusted_proxy_only(
    email: Email, peer: str, forwarded_for: str, client: str
) -> None:
    call(f"/t/o/{email.token}.gif", client=peer, x_forwarded_for=forwarded_for)
    drain()
    (opened,) = Event.objects.filter(email=email, kind="opened")
    assert opened.data["ip"] == client


def test_a_signed_in_hit_and_every_other_request_go_to_django() -> None:
    def scope(path: str, cookie: str = "", method: str = "GET") -> dict[str, Any]:
        headers = [(b"cookie", cookie.encode())] if cookie else []
        return {"type": "http", "method": method, "path": path, "headers": headers}

    assert route_of(scope("/t/o/abc.gif")) is not None
    assert route_of(scope("/t/o/abc.gif", cookie="theme=dark")) is not None
    assert route_of(scope("/t/o/abc.gif", cookie="sessionid=x")) is None
    assert route_of(scope("/t/o/abc.gif", method="POST")) is None
    assert route_of(scope("/emails/")) is None
