"""The live feed: server-sent events of a user's engagement and of emails joining (or
leaving) their saved searches.

Under ASGI (`commandcenter serve`) an open feed is an asyncio task, not a thread: one poller
per process reads what is new — events by id, FeedItems by id, two indexed range scans —
every POLL_SECONDS for all the feeds open in that process, and hands each feed its share. So
500 idle feeds cost one pair of queries each half second. Under WSGI (the test server,
`runserver`) each feed polls for itself in its thread, with the same functions.

Within one poll, human events go first and machine ones come marked (`"machine": true`).
The SSE id is a cursor: a browser that reconnects sends it back (Last-Event-ID) and misses
nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections
from django.db.models import Max

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Event
from commandcenter.search.models import FeedItem

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# A thread-per-feed server notices a closed connection only when it writes: write often.
BLOCKING_KEEPALIVE_SECONDS = 2.0
# A feed ends after this long; EventSource reconnects at once with its Last-Event-ID.
STREAM_SECONDS = 30 * 60
BATCH = 1000
ENGAGEMENT_KINDS = ("opened", "clicked", "replied", "bounced", "complained", "auto_replied")
CURSOR = re.compile(r"e(\d{1,19})-f(\d{1,19})")


@dataclass
class Cursor:
    event_id: int
    item_id: int

    def __str__(self) -> str:
        return f"e{self.event_id}-f{self.item_id}"


def current_cursor() -> Cursor:
    event = Event.objects.aggregate(n=Max("id"))["n"] or 0
    item = FeedItem.objects.aggregate(n=Max("id"))["n"] or 0
    return Cursor(event, item)


def start_cursor(last_event_id: str) -> Cursor:
    """Where a feed starts: after what the browser saw last, or now."""
    now = current_cursor()
    found = CURSOR.fullmatch(last_event_id.strip())
    if not found:
        return now
    # Never ahead of what exists, so a forged id cannot make a feed skip the future.
    return Cursor(min(int(found[1]), now.event_id), min(int(found[2]), now.item_id))


@dataclass(frozen=True)
class Listener:
    user_id: int
    team_id: int | None
    visible: frozenset[int]  # owners whose emails this user may see

    @classmethod
    def of(cls, user: User) -> Listener:
        visible = frozenset(user.viewable_users().values_list("pk", flat=True))
        return cls(user.pk, user.team_id, visible)


@dataclass
class Batch:
    """What is new after a cursor, for everyone: rows as plain dicts."""

    events: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    end: Cursor = field(default_factory=lambda: Cursor(0, 0))

    @property
    def full(self) -> bool:
        return len(self.events) >= BATCH or len(self.items) >= BATCH


def fetch(after: Cursor) -> Batch:
    events: list[dict[str, Any]] = [
        dict(row)
        for row in Event.objects.filter(id__gt=after.event_id, kind__in=ENGAGEMENT_KINDS)
        .order_by("id")
        .values(
            "id",
            "kind",
            "detail",
            "data",
            "created_at",
            "email_id",
            "email__owner_id",
            "email__to_address",
            "email__subject",
        )[:BATCH]
    ]
    items: list[dict[str, Any]] = [
        dict(row)
        for row in FeedItem.objects.filter(id__gt=after.item_id)
        .order_by("id")
        .values(
            "id",
            "kind",
            "created_at",
            "email_id",
            "email__owner_id",
            "email__to_address",
            "email__subject",
            "search_id",
            "search__name",
            "search__owner_id",
            "search__shared",
            "search__owner__team_id",
        )[:BATCH]
    ]
    end = Cursor(
        events[-1]["id"] if events else after.event_id,
        items[-1]["id"] if items else after.item_id,
    )
    if len(events) < BATCH:
        # Nothing of interest up to here: later polls need not scan those ids again.
        end.event_id = max(end.event_id, _last_event_id(after.event_id))
    return Batch(events, items, end)


def _last_event_id(after: int) -> int:
    return Event.objects.filter(id__gt=after).aggregate(n=Max("id"))["n"] or after


def _email(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["email_id"], "to": row["email__to_address"], "subject": row["email__subject"]}


def _at(value: dt.datetime) -> str:
    return value.isoformat()


def messages_for(listener: Listener, batch: Batch, after: Cursor) -> list[str]:
    """The SSE messages of the batch for one listener (rows after its own cursor)."""
    human: list[str] = []
    machine: list[str] = []
    for row in batch.events:
        if row["id"] <= after.event_id or row["email__owner_id"] != listener.user_id:
            continue
        data = row["data"] if isinstance(row["data"], dict) else {}
        if data.get("excluded"):
            continue  # the sender's own open or click
        is_machine = bool(data.get("machine"))
        payload = {
            "kind": row["kind"],
            "machine": is_machine,
            "reason": row["detail"],
            "email": _email(row),
            "at": _at(row["created_at"]),
        }
        (machine if is_machine else human).append(_message("engagement", payload))
    members: list[str] = []
    for row in batch.items:
        if row["id"] <= after.item_id or row["email__owner_id"] not in listener.visible:
            continue
        readable = row["search__owner_id"] == listener.user_id or (
            row["search__shared"]
            and listener.team_id is not None
            and row["search__owner__team_id"] == listener.team_id
        )
        if readable:
            payload = {
                "search": {"id": row["search_id"], "name": row["search__name"]},
                "email": _email(row),
                "at": _at(row["created_at"]),
            }
            members.append(_message(row["kind"], payload))
    messages = members + human + machine
    if messages:
        messages.append(f"id: {batch.end}\n\n")
    return messages


def _message(event: str, payload: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


def opening(cursor: Cursor) -> str:
    """The first bytes: how soon to reconnect, and the cursor to reconnect from."""
    return f"retry: 2000\nid: {cursor}\n: connected\n\n"


# -- WSGI: one thread per feed (test server, runserver) ------------------------------------


def stream_blocking(listener: Listener, cursor: Cursor, seconds: float) -> Iterator[str]:
    yield opening(cursor)
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        try:
            batch = fetch(cursor)
        except DatabaseError:
            return  # the browser reconnects with its Last-Event-ID
        messages = messages_for(listener, batch, cursor)
        cursor = batch.end
        if messages:
            yield "".join(messages)
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > BLOCKING_KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        close_old_connections()
        if not batch.full:
            time.sleep(POLL_SECONDS)


# -- ASGI: one poller per process for every feed -------------------------------------------


def fetch_fresh(after: Cursor) -> Batch:
    """fetch() on a connection that is known to work (the poller's thread keeps one)."""
    close_old_connections()
    return fetch(after)


class Hub:
    """The feeds open in this process and the one task that polls for all of them."""

    def __init__(self) -> None:
        self.feeds: dict[int, tuple[Listener, Cursor, asyncio.Queue[list[str]]]] = {}
        self.task: asyncio.Task[None] | None = None
        self._next = 0

    def subscribe(self, listener: Listener, cursor: Cursor) -> tuple[int, asyncio.Queue[list[str]]]:
        self._next += 1
        queue: asyncio.Queue[list[str]] = asyncio.Queue()
        self.feeds[self._next] = (listener, cursor, queue)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return self._next, queue

    def unsubscribe(self, key: int) -> None:
        self.feeds.pop(key, None)

    async def _run(self) -> None:
        while self.feeds:
            oldest = Cursor(
                min(cursor.event_id for _, cursor, _ in self.feeds.values()),
                min(cursor.item_id for _, cursor, _ in self.feeds.values()),
            )
            try:
                batch = await sync_to_async(fetch_fresh, thread_sensitive=False)(oldest)
            except DatabaseError:
                # The database went away for a moment: try again, the cursors did not move.
                logger.warning("the live feed could not read the database", exc_info=True)
                await asyncio.sleep(POLL_SECONDS * 4)
                continue
            for key, (listener, cursor, queue) in list(self.feeds.items()):
                messages = messages_for(listener, batch, cursor)
                self.feeds[key] = (
                    listener,
                    Cursor(
                        max(cursor.event_id, batch.end.event_id),
                        max(cursor.item_id, batch.end.item_id),
                    ),
                    queue,
                )
                if messages:
                    queue.put_nowait(messages)
            if not batch.full:
                await asyncio.sleep(POLL_SECONDS)


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (one per granian worker)."""
    loop = asyncio.get_running_loop()
    return _hubs.setdefault(id(loop), Hub())


async def stream(listener: Listener, cursor: Cursor, seconds: float) -> AsyncIterator[str]:
    yield opening(cursor)
    feeds = hub()
    key, queue = feeds.subscribe(listener, cursor)
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                messages = await asyncio.wait_for(queue.get(), min(KEEPALIVE_SECONDS, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield "".join(messages)
    finally:
        feeds.unsubscribe(key)
