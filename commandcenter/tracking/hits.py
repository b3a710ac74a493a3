"""Opens and clicks: captured from the request into the spool, then recorded as Events.

`capture()` runs in the request and keeps the raw facts (method, user agent, address,
referrer, headers, who was signed in). `drain()` runs later, in large transactions: it finds
each hit's email, gives it a verdict (verdict.py) and records it through `record_signals()`.
Archived and deleted emails record nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.http import HttpRequest
from django.http.request import HttpHeaders

from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.signals.record import Signal, record_signals
from commandcenter.tracking import conf, spool
from commandcenter.tracking.models import SpoolCursor, TrackedLink
from commandcenter.tracking.verdict import (
    BURST_SECONDS,
    CLICK,
    OPEN,
    Hit,
    RecentHit,
    recent_hits_matter,
    verdict,
)

logger = logging.getLogger(__name__)

EVENT_KINDS = {OPEN: "opened", CLICK: "clicked"}
COUNTERS = {OPEN: "opens", CLICK: "clicks"}
# Hits on these emails record nothing (tracking is off for an archived email).
UNTRACKED = frozenset({Status.ARCHIVED, Status.DELETED})
# Attacker-sized headers are cut, not refused: the hit is still answered and recorded.
MAX_HEADER_CHARS = 2000
MAX_HEADERS = 50
DRAIN_BATCH = 1000
# The row every drainer locks first (not a file: spool file names end in .spool).
DRAIN_LOCK = "drain lock"
# How far apart hits may be and still be "recent" (the burst rule looks one second around).
RECENT_WINDOW = timedelta(seconds=BURST_SECONDS * 2)


@dataclass(frozen=True)
class SpooledHit:
    kind: str
    at: float
    method: str
    user_agent: str
    ip: str
    referrer: str
    headers: dict[str, str]
    viewer: int | None
    email_token: str = ""
    email_id: int | None = None
    link_token: str = ""
    link_url: str = ""
    link_position: int | None = None

    @classmethod
    def from_line(cls, line: bytes) -> SpooledHit | None:
        """The hit of one spool line; None (and a warning) for a line that is not one: a
        line that cannot be recorded must not stop the lines after it."""
        try:
            hit = cls(**json.loads(line))
        except (ValueError, TypeError):
            hit = None
        if hit is None or not hit.is_well_formed():
            logger.warning("skipping an unreadable tracking spool line: %r", line[:200])
            return None
        return hit

    def is_well_formed(self) -> bool:
        texts = (self.method, self.user_agent, self.ip, self.referrer, self.email_token)
        return (
            self.kind in EVENT_KINDS
            and isinstance(self.at, int | float)
            and all(isinstance(text, str) for text in texts)
            and isinstance(self.headers, dict)
            and (self.viewer is None or isinstance(self.viewer, int))
            and (self.email_id is None or isinstance(self.email_id, int))
        )


def capture(request: HttpRequest, kind: str, **where: Any) -> None:
    """Puts the hit in the spool; returns once it is on disk."""
    capture_meta(request.META, kind, viewer=signed_in_user_id(request), **where)


def capture_meta(meta: Mapping[str, Any], kind: str, viewer: int | None, **where: Any) -> None:
    """capture() from a WSGI environ (the fast path has no HttpRequest); `viewer` is the
    signed-in user, if any."""
    headers = headers_of(meta)
    hit = SpooledHit(
        kind=kind,
        at=time.time(),
        method=str(meta.get("REQUEST_METHOD", "")).upper(),
        user_agent=headers.get("User-Agent", ""),
        ip=meta.get("REMOTE_ADDR", ""),
        referrer=headers.get("Referer", ""),
        headers=headers,
        viewer=viewer,
        **where,
    )
    spool.writer_for(conf.spool_dir()).append(hit.__dict__)
    start_background_drainer()


def request_headers(request: HttpRequest) -> dict[str, str]:
    return headers_of(request.META)


def headers_of(meta: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers as they came (only cut to a sane size, and without NUL)."""
    headers: dict[str, str] = {}
    for name, value in list(HttpHeaders(meta).items())[:MAX_HEADERS]:
        headers[storable(name)] = storable(str(value)[:MAX_HEADER_CHARS])
    return headers


def storable(text: str) -> str:
    """The text with NUL, which PostgreSQL cannot store in text or JSON, made visible as
    U+FFFD; everything else stays as it came."""
    return text.replace("\x00", "\ufffd")


def signed_in_user_id(request: HttpRequest) -> int | None:
    """The signed-in user, if the request carries a session (only then is it looked up)."""
    if not has_session_cookie(request.COOKIES):
        return None
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def has_session_cookie(cookies: Mapping[str, str]) -> bool:
    return settings.SESSION_COOKIE_NAME in cookies


# Per process: how far each spool file was read when this process last drained it.
_read_up_to: dict[Path, int] = {}


def drain(directory: Path | None = None, batch: int = DRAIN_BATCH) -> int:
    """Records every spooled hit not recorded yet; the number of spool lines read."""
    directory = directory or conf.spool_dir()
    total = 0
    for path in spool.segments(directory):
        try:
            total += _drain_segment(path, batch)
            _delete_if_finished(path)
        except FileNotFoundError:
            _read_up_to.pop(path, None)  # another drainer finished and deleted it
    return total


def _drain_segment(path: Path, batch: int) -> int:
    size = path.stat().st_size
    if size <= _read_up_to.get(path, -1):
        return 0  # nothing new: no transaction (on SQLite, no write lock) for it
    total = 0
    while True:
        count, offset = _drain_batch(path, batch)
        total += count
        if count < batch:
            # Only once committed: a rolled-back drain must be read again.
            transaction.on_commit(partial(_read_up_to.__setitem__, path, offset))
            return total


def _drain_batch(path: Path, batch: int) -> tuple[int, int]:
    """Records up to `batch` lines from the file's cursor; (lines read, new cursor)."""
    with transaction.atomic():
        # One drainer at a time (web processes and workers all drain): the same lines are
        # never recorded twice, and two drainers never update the same emails crosswise.
        _lock(DRAIN_LOCK)
        cursor = _lock(path.name)
        lines, end = spool.read_lines(path, cursor.offset, batch)
        if lines:
            hits = [hit for hit in map(SpooledHit.from_line, lines) if hit is not None]
            _record_or_skip_bad_data(hits)
            cursor.offset = end
            cursor.save(update_fields=["offset"])
    return len(lines), end


def _record_or_skip_bad_data(hits: list[SpooledHit]) -> None:
    """All the hits at once; if the database refuses the data of one, each on its own, so
    that one bad hit never blocks the spool (a database that is down still stops it)."""
    try:
        with transaction.atomic():
            record_hits(hits)
        return
    except DataError:
        logger.warning("recording a batch of tracking hits one by one", exc_info=True)
    for hit in hits:
        try:
            with transaction.atomic():
                record_hits([hit])
        except DataError:
            logger.exception("skipping a tracking hit the database refuses: %r", hit)


def _lock(name: str) -> SpoolCursor:
    SpoolCursor.objects.bulk_create([SpoolCursor(name=name)], ignore_conflicts=True)
    return SpoolCursor.objects.select_for_update().get(name=name)


def _delete_if_finished(path: Path) -> None:
    """A segment no writer will touch again, read to its end, is no longer needed."""
    if time.time() - spool.segment_created_at(path.name) < spool.SEGMENT_SECONDS + 60:
        return
    offset = SpoolCursor.objects.filter(name=path.name).values_list("offset", flat=True).first()
    if offset is not None and offset >= path.stat().st_size:
        path.unlink(missing_ok=True)
        SpoolCursor.objects.filter(name=path.name).delete()
        _read_up_to.pop(path, None)


def record_hits(hits: list[SpooledHit]) -> int:
    """Gives each hit its verdict and records it on its email (hits on unknown, archived and
    deleted emails record nothing); the number of events recorded."""
    emails = _emails_for(hits)
    link_counts = _link_counts({e.pk for e in emails.values()})
    recent = _recent_hits(hits, link_counts)
    signals: list[Signal] = []
    for hit in hits:
        email = emails.get(_email_key(hit))
        if email is None or email.status in UNTRACKED:
            continue
        found = verdict(_as_verdict_hit(hit, email, link_counts), _near(hit, recent[email.pk]))
        signals.append(
            Signal(
                email_id=email.pk,
                kind=EVENT_KINDS[hit.kind],
                detail=found.reason,
                payload=_raw_headers(hit.headers),
                data=_event_data(hit, found.machine, found.reason, found.excluded),
                counter=COUNTERS[hit.kind] if found.counts else None,
                at=datetime.fromtimestamp(hit.at, tz=UTC),
            )
        )
    return record_signals(signals)


def _email_key(hit: SpooledHit) -> str:
    return f"id:{hit.email_id}" if hit.kind == CLICK else f"token:{hit.email_token}"


def _emails_for(hits: list[SpooledHit]) -> dict[str, Email]:
    tokens = {hit.email_token for hit in hits if hit.kind == OPEN}
    ids = {hit.email_id for hit in hits if hit.kind == CLICK and hit.email_id is not None}
    rows = Email.objects.filter(Q(token__in=tokens) | Q(pk__in=ids)).only(
        "id", "token", "status", "owner_id", "sent_at"
    )
    found: dict[str, Email] = {}
    for email in rows:
        found[f"token:{email.token}"] = email
        found[f"id:{email.pk}"] = email
    return found


def _link_counts(email_ids: set[int]) -> dict[int, int]:
    rows = (
        TrackedLink.objects.filter(email_id__in=email_ids)
        .values("email_id")
        .annotate(links=Count("id"))
    )
    return {row["email_id"]: row["links"] for row in rows}


def _recent_hits(
    hits: list[SpooledHit], link_counts: dict[int, int]
) -> dict[int, list[tuple[float, str, str]]]:
    """(time, kind, link) of the clicks of each email around this batch: the ones recorded
    already and the ones in the batch, for the burst rule. Only for the emails whose verdicts
    they can change: looking back cost a click twice the drain work of an open."""
    recent: dict[int, list[tuple[float, str, str]]] = defaultdict(list)
    for hit in hits:
        if hit.email_id is not None and recent_hits_matter(
            hit.kind, link_counts.get(hit.email_id, 0)
        ):
            recent[hit.email_id].append((hit.at, hit.kind, hit.link_token))
    if not recent:
        return recent
    times = [at for entries in recent.values() for at, _, _ in entries]
    since = datetime.fromtimestamp(min(times), tz=UTC) - RECENT_WINDOW
    until = datetime.fromtimestamp(max(times), tz=UTC) + RECENT_WINDOW
    earlier = Event.objects.filter(
        email_id__in=list(recent),
        kind=EVENT_KINDS[CLICK],
        created_at__gte=since,
        created_at__lte=until,
    ).values_list("email_id", KT("data__at_epoch"), KT("data__link_token"))
    # Only the two keys, as plain values read by the database: decoding every recent
    # click's whole JSON cost more than the rest of the drain when clicks come fast.
    for email_id, at, link in earlier:
        try:
            recent[email_id].append((float(at), CLICK, str(link or "")))
        except (TypeError, ValueError):
            continue  # not a click recorded by the drain (no time of its own)
    return recent


def _near(hit: SpooledHit, around: list[tuple[float, str, str]]) -> list[RecentHit]:
    """The other hits of the email, seconds before this one (negative: after it, in the same
    batch: a burst is a burst whichever of its clicks is looked at)."""
    window = RECENT_WINDOW.total_seconds()
    return [
        RecentHit(kind, hit.at - at, link)
        for at, kind, link in around
        if abs(hit.at - at) <= window and (at, kind, link) != (hit.at, hit.kind, hit.link_token)
    ]


def _as_verdict_hit(hit: SpooledHit, email: Email, link_counts: dict[int, int]) -> Hit:
    since_sent = hit.at - email.sent_at.timestamp() if email.sent_at else None
    return Hit(
        kind=hit.kind,
        method=hit.method,
        user_agent=hit.user_agent,
        ip=hit.ip,
        headers=hit.headers,
        seconds_since_sent=since_sent,
        link=hit.link_token,
        links_in_email=link_counts.get(email.pk, 0),
        by_sender=hit.viewer is not None and hit.viewer == email.owner_id,
    )


def _event_data(hit: SpooledHit, machine: bool, reason: str, excluded: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "machine": machine,
        "reason": reason,
        "excluded": excluded,
        "user_agent": hit.user_agent,
        "ip": hit.ip,
        "referrer": hit.referrer,
        "method": hit.method,
        "at": datetime.fromtimestamp(hit.at, tz=UTC).isoformat(),
        "at_epoch": hit.at,
    }
    if hit.kind == CLICK:
        data.update(link_token=hit.link_token, url=hit.link_url, position=hit.link_position)
    return data


def _raw_headers(headers: dict[str, str]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


_drainer_started: set[tuple[int, Path]] = set()
_drainer_lock = threading.Lock()
DRAIN_INTERVAL = 0.25


def start_background_drainer() -> None:
    """Once per web process and spool: a thread that drains it (and replays what an earlier
    process left) every DRAIN_INTERVAL seconds."""
    if not conf.drain_in_web():
        return
    directory = conf.spool_dir()
    key = (os.getpid(), directory)
    if key in _drainer_started:
        return  # every hit asks: answer the usual case without the lock
    with _drainer_lock:
        if key in _drainer_started:
            return
        _drainer_started.add(key)
    thread = threading.Thread(
        target=_drain_forever, args=(directory,), name="tracking-drain", daemon=True
    )
    thread.start()


def _drain_forever(directory: Path) -> None:
    while True:
        close_old_connections()
        drained = 0
        try:
            drained = drain(directory)
        except (DatabaseError, OSError):
            # The next round retries: nothing is lost, the cursor did not move.
            logger.exception("draining the tracking spool failed")
        if not drained:
            connection.close()  # idle: hold no database connection
        time.sleep(DRAIN_INTERVAL)
