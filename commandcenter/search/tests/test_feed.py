"""The live feed: what each user's stream holds, and the real thing under `serve`'s ASGI
server (granian), where a click on a tracked link reaches an open feed within 2 seconds."""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Event
from commandcenter.search import feed, saved
from commandcenter.search.models import FeedItem
from commandcenter.search.tests.conftest import engaged, token_of
from commandcenter.tracking.tests.conftest import delivered_email
from commandcenter.tracking.tests.test_endpoints import click_paths
from commandcenter.web.management.commands.serve import web_env, web_server

CLICKED = {"all": [{"field": "clicks", "op": "gte", "value": 1}]}


def events_of(messages: list[str]) -> list[tuple[str, dict[str, Any]]]:
    parsed = []
    for message in "".join(messages).split("\n\n"):
        lines = dict(line.split(": ", 1) for line in message.splitlines() if ": " in line)
        if "event" in lines:
            parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


def test_a_feed_streams_the_owners_engagement_human_first_machine_marked(alice, bob, db):
    start = feed.current_cursor()
    mine = engaged(alice, "pat@a.example", machine_opens=1)
    Event.objects.create(
        email=mine, kind="clicked", data={"machine": False}, created_at=timezone.now()
    )
    engaged(bob, "bobs@a.example", opens=1)
    batch = feed.fetch(start)
    got = events_of(feed.messages_for(feed.Listener.of(alice), batch, start))
    assert [(kind, data["kind"], data["machine"]) for kind, data in got] == [
        ("engagement", "clicked", False),
        ("engagement", "opened", True),
    ]
    assert all(data["email"]["to"] == "pat@a.example" for _, data in got)


def test_a_feed_says_when_an_email_joins_a_search_the_listener_may_read(alice, bob, carol):
    search = saved.create(alice, saved.Draft(name="Clicked", filter=CLICKED, shared=True))
    start = feed.current_cursor()
    alices = engaged(alice, "a@a.example", clicks=1)
    bobs = engaged(bob, "b@b.example", clicks=1)
    for email in (alices, bobs):
        FeedItem.objects.create(
            search=search, email=email, kind="joined", created_at=timezone.now()
        )
    batch = feed.fetch(start)

    def joined(user: User) -> list[int]:
        got = events_of(feed.messages_for(feed.Listener.of(user), batch, start))
        return [data["email"]["id"] for kind, data in got if kind == "joined"]

    assert joined(alice) == [alices.pk]  # a rep sees only their own emails
    assert joined(bob) == [bobs.pk]  # shared: a teammate sees theirs
    assert joined(carol) == []  # another team: nothing


def test_a_forged_cursor_cannot_skip_ahead(db):
    now = feed.current_cursor()
    assert str(feed.start_cursor("e999999999-f999999999")) == str(now)
    assert str(feed.start_cursor("garbage")) == str(now)


# -- the real server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{settings['USER']}{password}@{settings['HOST']}:{settings['PORT'] or 5432}"
        f"/{settings['NAME']}"
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """`commandcenter serve`'s own web server on the test database."""
    port = free_port()
    env = web_env(
        4,
        dict(
            os.environ,
            DATABASE_URL=database_url(),
            COMMANDCENTER_VAR=str(tmp_path),
            TRACKING_DRAIN_IN_WEB="true",
            PUBLIC_URL="https://cc.example.net",
        ),
    )
    (tmp_path / "static").mkdir()
    process = subprocess.Popen(web_server("127.0.0.1", port, 1, 4), env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def read_feed(port: int, token: str, into: queue.Queue[tuple[float, str]]) -> None:
    """Read the feed's messages into the queue, each with the time it arrived."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/feed", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    into.put((time.monotonic(), f"status {response.status} {response.getheader('Content-Type')}"))
    buffer = b""
    while True:
        try:
            chunk = response.read1(65536)
        except (http.client.IncompleteRead, OSError):
            return  # the server stopped at the end of the test
        if not chunk:
            return
        buffer += chunk
        while b"\n\n" in buffer:
            message, buffer = buffer.split(b"\n\n", 1)
            into.put((time.monotonic(), message.decode()))


def next_matching(messages: queue.Queue[tuple[float, str]], word: str, within: float) -> tuple:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            at, message = messages.get(timeout=left)
        except queue.Empty:
            break
        if word in message:
            return at, message
    pytest.fail(f"no {word!r} message within {within} s")


@pytest.mark.django_db(transaction=True)
def test_a_click_reaches_the_open_feed_within_two_seconds(server, settings):
    from commandcenter.accounts.services import create_user

    settings.PUBLIC_URL = "https://cc.example.net"
    alice = create_user("alice", email="alice@example.com", password="alice-pass")
    email = delivered_email(alice)
    saved.create(alice, saved.Draft(name="Clicked", filter=CLICKED))
    path = click_paths(email)[0].removeprefix("https://cc.example.net")
    messages: queue.Queue[tuple[float, str]] = queue.Queue()
    threading.Thread(
        target=read_feed, args=(server, token_of(alice), messages), daemon=True
    ).start()
    _, status = next_matching(messages, "status", 30)
    assert "200 text/event-stream" in status
    next_matching(messages, "connected", 10)
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    conn.request(
        "GET",
        path,
        headers={
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) "
            "AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
        },
    )
    clicked_at = time.monotonic()
    assert conn.getresponse().status == 302
    joined_at, joined = next_matching(messages, "event: joined", 10)
    assert f'"id":{email.pk}' in joined and '"name":"Clicked"' in joined
    assert joined_at - clicked_at <= 2.0, f"took {joined_at - clicked_at:.2f} s"
    _, engagement = next_matching(messages, "event: engagement", 5)
    assert '"kind":"clicked"' in engagement and '"machine":false' in engagement
