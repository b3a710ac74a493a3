"""The bulk generator behind `seed-demo --emails N`: synthetic outboxes for the benchmarks.

It writes straight into the tables because the ORM is two orders of magnitude too slow for
millions of rows: on SQLite a forked producer process builds each 50,000-row chunk into a
scratch file that this process copies over with INSERT … SELECT and adds to the word index (two
cores; the indexes that random keys would reach built once at the end); on PostgreSQL, COPY in
big transactions. The rows
have the shape the app writes: every NOT NULL column filled, unique tokens, the person's address
as `to_address`, and `sort_at` equal to the date the folder sorts by (outbox.states
sort_date_field: sent_at for Delivered/Archived, failed_at for Failed/Bounced/Spam, the send time
for Scheduled, the last edit for Drafts).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gc
import multiprocessing
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from commandcenter.accounts.models import Team, User
from commandcenter.outbox import counts
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.search import engagement, fulltext

CHUNK = 50_000
BULK_LOAD_MIN = 100_000  # from this many new emails on, indexes are rebuilt rather than grown
STAMP_POOL = 1 << 16
HISTORY_DAYS = 365

# How a real outbox spreads over the folders (In Progress lasts seconds: empty at rest).
FOLDER_SHARES: dict[str, float] = {
    Status.DELIVERED: 0.72,
    Status.ARCHIVED: 0.08,
    Status.SCHEDULED: 0.05,
    Status.DRAFT: 0.02,
    Status.FAILED: 0.06,
    Status.BOUNCED: 0.06,
    Status.SPAM: 0.01,
}
EMAILS_PER_PERSON = 10
EVENT_SHARE = 0.1
SENT_STATUSES = frozenset({"delivered", "archived", "bounced", "spam"})
UNDELIVERED_STATUSES = frozenset(
    {"failed", "bounced", "spam"}
)  # one event for this share of the emails: "a few events"

# Event data of engagement: a human open or click, and a privacy proxy's prefetch.
HUMAN = '{"machine": false}'
MACHINE = '{"machine": true, "reason": "Apple Mail Privacy Protection"}'
# How far after delivery engagement comes, in steps of the timestamp pool (~8 minutes each).
ENGAGEMENT_SPREAD = 2000

FIRST_NAMES = ["Pat", "Lee", "Sam", "Alex", "Maria", "Chen", "Aisha", "Jonas", "Priya", "Diego"]
LAST_NAMES = ["Lee", "Garcia", "Smith", "Nguyen", "Müller", "Okafor", "Rossi", "Kim", "Silva"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]
TITLES = ["CTO", "VP Sales", "Head of IT", "Founder", "Procurement Lead", "COO", ""]
SUBJECTS = [
    "Quick question about {company}",
    "Following up",
    "Idea for your team",
    "Worth a chat next week?",
    "Re: our call",
]
BODY = "Hi {first},\n\nWould a 15-minute call next week make sense?\n\nBest,\nRep"
# The same as the rep wrote them (Email.template_*): the rows' subjects and bodies are these
# with the merge fields filled.
SUBJECT_TEMPLATES = [s.replace("{company}", "{{company}}") for s in SUBJECTS]
BODY_TEMPLATE = BODY.replace("{first}", "{{first_name}}")
REASONS: dict[str, list[str]] = {
    Status.FAILED: [
        "550 5.1.1 <{to}>: Recipient address rejected: User unknown (at RCPT TO)",
        "Merge field {{{{industry}}}} is empty for {to}.",
        "Recipient is marked do-not-contact.",
        "gave up after 8 attempts: 421 4.7.0 Try again later",
    ],
    Status.BOUNCED: [
        "userunknown: 550 5.1.1 The email account that you tried to reach does not exist. "
        "(hard bounce)",
        "mailboxfull: 552 5.2.2 Mailbox full.",
        "hostunknown: Host or domain name not found. (hard bounce)",
    ],
    Status.SPAM: ["The recipient marked it as spam (abuse)."],
}
# status: the kind and source status of the event that put an email there
EVENT_KINDS: dict[str, tuple[str, str]] = {
    Status.DELIVERED: ("sent", Status.IN_PROGRESS),
    Status.ARCHIVED: ("archived", Status.DELIVERED),
    Status.SCHEDULED: ("created", ""),
    Status.DRAFT: ("created", ""),
    Status.FAILED: ("failed", Status.IN_PROGRESS),
    Status.BOUNCED: ("bounced", Status.DELIVERED),
    Status.SPAM: ("complained", Status.DELIVERED),
}

EMAIL_COLUMNS = [
    "id", "owner_id", "person_id", "to_address", "subject", "body_text", "status", "reason",
    "token", "message_id", "created_at", "updated_at", "send_at", "due_at", "sent_at",
    "failed_at", "sort_at", "attempts", "opens", "clicks", "replies", "template_subject",
]  # fmt: skip
# Columns every generated email has the same value in: written by the database (SQL literal
# for SQLite, COPY text for PostgreSQL) instead of being bound a million times.
EMAIL_CONSTANTS: dict[str, tuple[str, str]] = {
    "batch_id": ("NULL", r"\N"),
    "body_html": ("''", ""),
    "last_error": ("''", ""),
    "claimed_by": ("''", ""),
    "lease_until": ("NULL", r"\N"),
    "handoff_started_at": ("NULL", r"\N"),
    "campaign_id": ("NULL", r"\N"),
    "step_id": ("NULL", r"\N"),
    "enrolment_id": ("NULL", r"\N"),
    "variant_id": ("NULL", r"\N"),
    "reference_ids": ("''", ""),
    "template_body_text": (
        "'" + BODY_TEMPLATE.replace("'", "''") + "'",
        BODY_TEMPLATE.replace("\\", "\\\\").replace("\n", "\\n"),
    ),
    "template_body_html": ("''", ""),
    "template_id": ("NULL", r"\N"),
    "send_zone": ("''", ""),
}
PERSON_COLUMNS = [
    "id",
    "owner_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "time_zone",
    "custom_fields",
    "do_not_contact",
    "do_not_contact_reason",
    "do_not_contact_at",
    "unsubscribed_at",
    "created_at",
    "updated_at",
]
EVENT_COLUMNS = [
    "email_id",
    "kind",
    "from_status",
    "to_status",
    "detail",
    "payload",
    "data",
    "dedupe_key",
    "created_at",
]

Row = tuple[Any, ...]
Progress = Callable[[int, int], None]


@dataclass
class SeedResult:
    emails: int
    people: int
    events: int
    users: list[User]
    seconds: float

    @property
    def rate(self) -> float:
        return self.emails / self.seconds if self.seconds else 0.0


def check_columns() -> None:
    """The generator must fill every column the models have: fail loudly when one is added."""
    for model, columns, skip in (
        (Email, [*EMAIL_COLUMNS, *EMAIL_CONSTANTS], set()),
        (Person, PERSON_COLUMNS, set()),
        (Event, EVENT_COLUMNS, {"id"}),
    ):
        wanted = {f.column for f in model._meta.concrete_fields} - skip
        if wanted != set(columns):
            raise RuntimeError(
                f"synthetic {model.__name__} columns are out of date: {wanted ^ set(columns)}"
            )


def seed_users(count: int, *, prefix: str = "seed-rep") -> list[User]:
    team, _ = Team.objects.get_or_create(name="Seed")
    users = []
    for number in range(1, count + 1):
        name = f"{prefix}-{number:03d}"
        user = User.objects.filter(username=name).first()
        if user is None:
            user = User(username=name, email=f"{name}@example.com", team=team)
            user.set_unusable_password()
            user.save()
        users.append(user)
    return users


def emails_per_user(total: int, users: int, owner_share: float) -> list[int]:
    """The first user gets `owner_share` of the emails, the others an even share of the rest."""
    if users == 1:
        return [total]
    first = round(total * owner_share)
    rest, extra = divmod(total - first, users - 1)
    return [first] + [rest + (1 if n < extra else 0) for n in range(users - 1)]


class _Stamps:
    """Pools of timestamps as the backend stores them; picking one is an index, not strftime."""

    def __init__(self, now: dt.datetime, postgres: bool) -> None:
        suffix = "+00" if postgres else ""
        past_start = now - dt.timedelta(days=HISTORY_DAYS)
        self.past = self._pool(past_start, now - dt.timedelta(minutes=1), suffix)
        self.future = self._pool(now + dt.timedelta(hours=1), now + dt.timedelta(days=30), suffix)
        self.now = self._format(now, suffix)

    @staticmethod
    def _format(when: dt.datetime, suffix: str) -> str:
        # Never a zero microsecond: Django writes those without the fraction, which would
        # compare differently as text on SQLite.
        when = when.astimezone(dt.UTC).replace(tzinfo=None, microsecond=when.microsecond or 1)
        return when.strftime("%Y-%m-%d %H:%M:%S.%f") + suffix

    def _pool(self, start: dt.datetime, end: dt.datetime, suffix: str) -> list[str]:
        span = (end - start).total_seconds()
        rng = random.Random(len(suffix))
        moments = sorted(rng.random() * span for _ in range(STAMP_POOL))
        return [self._format(start + dt.timedelta(seconds=s), suffix) for s in moments]


def _tokens(count: int) -> list[str]:
    """`count` tokens like outbox.models.new_token (18 random bytes, URL-safe base64), in
    ascending order: the unique index on the tokens then takes a chunk's in one sweep, where
    random places cost a third of the bulk load's copying. Each is as unguessable as ever."""
    raw = base64.urlsafe_b64encode(os.urandom(18 * count)).decode()
    return sorted(raw[start : start + 24] for start in range(0, 24 * count, 24))


def _person_address(person_id: int) -> str:
    return f"p{person_id}@{COMPANIES[person_id % len(COMPANIES)].lower()}{person_id % 97}.example"


class _Generator:
    """Builds rows as plain tuples, in the order of the *_COLUMNS lists; kept cheap per row."""

    def __init__(self, postgres: bool, rng: random.Random, events_per_email: float = 0.0) -> None:
        self.rng = rng
        # 0: "a few events" (one for EVENT_SHARE of the emails); from 1 on, each email's whole
        # history (created, claimed, sent, opens human and machine, clicks, replies) with
        # about this many events per email on average.
        self.events_per_email = events_per_email
        self.stamps = _Stamps(dt.datetime.now(dt.UTC), postgres)
        self.false: object = "f" if postgres else 0
        body = BODY.replace("\n", "\\n") if postgres else BODY
        self.bodies = [body.format(first=name) for name in FIRST_NAMES]
        self.subjects = [[s.format(company=c) for c in COMPANIES] for s in SUBJECTS]
        self.statuses = [str(status) for status in FOLDER_SHARES]
        self.weights = list(FOLDER_SHARES.values())
        self.addresses: dict[int, str] = {}
        self.stamp_index = {stamp: index for index, stamp in enumerate(self.stamps.past)}

    def people(self, owner_id: int, first_id: int, count: int) -> Iterator[Row]:
        now = self.stamps.now
        for pid in range(first_id, first_id + count):
            address = self.addresses[pid] = _person_address(pid)
            yield (
                pid, owner_id, address,
                FIRST_NAMES[pid % len(FIRST_NAMES)], LAST_NAMES[pid % len(LAST_NAMES)],
                COMPANIES[pid % len(COMPANIES)], TITLES[pid % len(TITLES)],
                "", "{}", self.false, "", None, None, now, now,
            )  # fmt: skip

    def emails(
        self, first_id: int, owners: Sequence[int], people: dict[int, tuple[int, int]]
    ) -> tuple[list[Row], list[Row]]:
        """Email rows (ids from first_id), one per entry of `owners`, and a few events."""
        rnd = self.rng.random
        statuses = self.rng.choices(self.statuses, self.weights, k=len(owners))
        tokens = _tokens(len(owners))
        rows: list[Row] = []
        events: list[Row] = []
        for offset, (owner_id, status) in enumerate(zip(owners, statuses, strict=True)):
            first_person, people_count = people[owner_id]
            person_id = first_person + int(rnd() * people_count)
            row = self._email(first_id + offset, owner_id, person_id, status, tokens[offset])
            rows.append(row)
            if self.events_per_email >= 1:
                events.extend(self._history(row))
            elif rnd() < EVENT_SHARE:
                events.append(self._event(row))
        return rows, events

    def _email(self, email_id: int, owner: int, person: int, status: str, token: str) -> Row:
        rnd = self.rng.random
        past = self.stamps.past
        index = 1 + int(rnd() * (STAMP_POOL - 1))
        created = past[index - 1]
        when = past[index]
        to = self.addresses[person]
        subject = self.subjects[email_id % len(SUBJECTS)][person % len(COMPANIES)]
        body = self.bodies[person % len(self.bodies)]
        reason = message_id = ""
        send_at: str | None = when
        due_at = sent_at = failed_at = None
        opens = clicks = replies = attempts = 0
        if status in SENT_STATUSES:
            sent_at = when
            message_id = f"<{token}@seed.commandcenter>"
            attempts = 1
            if status == "delivered":
                opens = int(rnd() * 4)
                clicks = 1 if opens and rnd() < 0.3 else 0
                replies = 1 if opens and rnd() < 0.08 else 0
        if status in UNDELIVERED_STATUSES:
            failed_at = when
            reasons = REASONS[status]
            reason = reasons[int(rnd() * len(reasons))].format(to=to)
        if status == "scheduled":
            send_at = due_at = when = self.stamps.future[int(rnd() * STAMP_POOL)]
        elif status == "draft":
            send_at = None
        return (
            email_id, owner, person, to, subject, body, status, reason, token, message_id,
            created, when, send_at, due_at, sent_at, failed_at, when, attempts,
            opens, clicks, replies, SUBJECT_TEMPLATES[email_id % len(SUBJECTS)],
        )  # fmt: skip

    def _history(self, email: Row) -> list[Row]:
        """Events that tell the email's story, consistent with its counters: every human open,
        click and reply it counts, machine opens (privacy proxies) besides, after delivery."""
        rnd = self.rng.random
        email_id, status, reason, created = email[0], str(email[6]), email[7], email[10]
        sent_at = email[14]
        first = "draft" if status == "draft" else "scheduled"
        events: list[Row] = [(email_id, "created", "", first, "", "", "{}", "", created)]
        if status in ("scheduled", "draft"):
            return events
        when = str(email[11])
        events.append((email_id, "claimed", "scheduled", "in_progress", "", "", "{}", "", when))
        if status == "failed":
            events.append((email_id, "failed", "in_progress", "failed", reason, "", "{}", "", when))
            return events
        events.append((email_id, "sent", "in_progress", "delivered", "", "", "{}", "", sent_at))
        kind, source = EVENT_KINDS[status]
        if status != "delivered":
            events.append((email_id, kind, source, status, reason, "", "{}", "", when))
        opens, clicks, replies = int(email[18]), int(email[19]), int(email[20])
        # Sent emails carry the events that are not lifecycle: 1/0.87 of the average each.
        # (The lifecycle and human events push some emails past the target: aim a bit low.)
        target = int(rnd() * 2 * max(1.0, self.events_per_email / 0.87 - 0.45))
        machine = max(0, target - len(events) - opens - clicks - replies)
        start = self.stamp_index.get(str(sent_at), 0)
        past, last = self.stamps.past, STAMP_POOL - 1
        for count, row_kind, data in (
            (opens, "opened", HUMAN), (clicks, "clicked", HUMAN), (replies, "replied", "{}"),
            (machine, "opened", MACHINE),
        ):  # fmt: skip
            for _ in range(count):
                at = past[min(last, start + 1 + int(rnd() * ENGAGEMENT_SPREAD))]
                events.append((email_id, row_kind, status, status, "", "", data, "", at))
        return events

    def _event(self, email: Row) -> Row:
        status = str(email[6])
        kind, source = EVENT_KINDS[status]
        return (email[0], kind, source, status, email[7], "", "{}", "", email[11])


def _insert(
    table: str,
    columns: Sequence[str],
    rows: list[Row],
    constants: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Write rows (values for `columns`) plus the same `constants` in every row."""
    if not rows:
        return
    constants = constants or {}
    names = ", ".join([*columns, *constants])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tail = "".join(f"\t{text}" for _, text in constants.values()) + "\n"
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                copy.write("".join(_copy_line(row) + tail for row in rows))
            return
        # Table and column names are this module's constants, never input. The rows go to an
        # index-free temp table first, then over in one INSERT … SELECT: SQLite maintains the
        # indexes in C with the GIL released, while the next chunk is generated.
        stage = f"stage_{table}"
        marks = ", ".join(["%s"] * len(columns))
        variable = ", ".join(columns)
        cursor.execute(f"DROP TABLE IF EXISTS temp.{stage}")
        cursor.execute(f"CREATE TEMP TABLE {stage} ({variable})")
        cursor.executemany(f"INSERT INTO {stage} VALUES ({marks})", rows)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {_select_list(columns, constants)} "  # noqa: S608
            f"FROM {stage}"
        )
        cursor.execute(f"DROP TABLE temp.{stage}")


def _select_list(columns: Sequence[str], constants: dict[str, tuple[str, str]]) -> str:
    return ", ".join([*columns, *(literal for literal, _ in constants.values())])


def _copy_line(row: Row) -> str:
    # COPY's text format; generated values never hold tabs, and bodies are pre-escaped.
    return "\t".join(r"\N" if value is None else str(value) for value in row)


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
        return int(cursor.fetchone()[0])


# SQLite settings for a bulk load, each put back as it was afterwards: no fsync, no foreign-key
# checks (the generator's keys are right by construction; checks cost a third), a 256 MiB page
# cache so the indexes being written stay in memory, and the index builds' sorts in temp files:
# in memory, SQLite's sorter allocates each row on its own, and the builds take a third longer.
BULK_PRAGMAS = {
    "synchronous": "OFF",
    "foreign_keys": "OFF",
    "cache_size": "-262144",
    "temp_store": "FILE",
}


@contextlib.contextmanager
def _bulk_load(adding: int) -> Iterator[bool]:
    """Bulk-load settings for this connection, put back afterwards; yields whether the writer
    must add each chunk to the word index itself (the index's triggers are off).

    When adding more rows than the emails table has, the email and event indexes whose keys
    arrive in random order are dropped and built again at the end (sorting once beats a
    million random inserts into each), and so are the folder counts and engagement rows; on
    SQLite the journal is kept in memory instead of the WAL meanwhile. Both need nobody else
    writing: this is for building benchmark databases.
    """
    if connection.in_atomic_block:
        yield False
        return
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        pragmas = _set_pragmas(cursor, BULK_PRAGMAS) if sqlite else {}
        cursor.execute("SELECT COUNT(*) FROM outbox_email")
        big = adding >= max(BULK_LOAD_MIN, cursor.fetchone()[0])
        journal = _set_journal_mode(cursor, "MEMORY") if big and sqlite else None
        indexes = _drop_indexes(cursor) if big else []
    if big:
        # A million appended deltas would cost more than one recount at the end; the same
        # for the engagement rows. The word index is filled chunk by chunk instead (one
        # statement costs a quarter less than a trigger run per row, and runs while the
        # producer process generates the next chunk).
        counts.drop_triggers(connection)
        engagement.drop_triggers(connection)
        fulltext.drop_triggers(connection)
    try:
        yield big
    finally:
        if big:
            fulltext.install_triggers(connection)
        with connection.cursor() as cursor:
            for sql in indexes:
                cursor.execute(sql)
        if big:
            # After the indexes: the recounts read them instead of sorting the tables.
            counts.install_triggers(connection)
            counts.rebuild()
            engagement.install_triggers(connection)
            engagement.rebuild(connection)
        with connection.cursor() as cursor:
            if big:
                if sqlite:
                    # Statistics from a sample of each index: enough for the planner, and fast.
                    pragmas.update(_set_pragmas(cursor, {"analysis_limit": "1000"}))
                cursor.execute("ANALYZE")
            if journal:
                _set_journal_mode(cursor, journal)
            _set_pragmas(cursor, pragmas)


def _set_pragmas(cursor: CursorWrapper, values: dict[str, str]) -> dict[str, str]:
    """Set these SQLite pragmas (names and values are this module's); returns the old values."""
    previous = {}
    for name, value in values.items():
        cursor.execute(f"PRAGMA {name}")
        previous[name] = str(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA {name} = {value}")
    return previous


def _set_journal_mode(cursor: CursorWrapper, mode: str) -> str:
    """Set the journal mode; returns the previous one (unchanged if another connection is open)."""
    cursor.execute("PRAGMA journal_mode")
    previous = str(cursor.fetchone()[0])
    cursor.execute(f"PRAGMA journal_mode = {mode}")
    return previous


# Columns the generator writes in id order (email_id of events), with a handful of values
# (owner_id) or with one value in every row (EMAIL_CONSTANTS): an index on nothing else only
# ever grows at a few ends, which costs less than scanning and sorting the table again.
GROWING_AT_THE_END = frozenset({"email_id", "owner_id", *EMAIL_CONSTANTS})


def _drop_indexes(cursor: CursorWrapper) -> list[str]:
    """Drop the non-unique email and event indexes that the generator's rows would reach in
    random order; returns the SQL that creates them again.

    Unique indexes stay: they back constraints (the primary keys, tokens, event dedupe keys).
    """
    if connection.vendor == "sqlite":
        cursor.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name IN ('outbox_email', 'outbox_event') "
            "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
        )
        indexes = [
            (name, sql) for name, sql in cursor.fetchall() if not _grows_at_the_end(cursor, name)
        ]
    else:
        # PostgreSQL: all of them, as before (it was not measured with some kept).
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() "
            "AND tablename IN ('outbox_email', 'outbox_event') "
            "AND indexdef NOT LIKE 'CREATE UNIQUE%'"
        )
        indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def _grows_at_the_end(cursor: CursorWrapper, index: str) -> bool:
    cursor.execute("SELECT name FROM pragma_index_info(%s)", [index])
    return {column for (column,) in cursor.fetchall()} <= GROWING_AT_THE_END


def _reset_sequences() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in ("people_person", "outbox_email", "outbox_event"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )


def generate(
    emails: int,
    *,
    users: int = 10,
    owner_share: float = 0.1,
    progress: Progress | None = None,
    seed: int | None = None,
    events_per_email: float = 0.0,
) -> SeedResult:
    """Write `emails` synthetic emails (and their people, and events) for `users` reps.

    `events_per_email` 0: a few events; from 1 on, each email's history, about that many
    events per email (10 makes the 10,000,000 events of a million-email benchmark)."""
    if emails < 0 or users < 1 or not 0 <= owner_share <= 1 or not 0 <= events_per_email <= 100:
        raise ValueError(
            "--emails >= 0, --users >= 1, 0 <= --owner-share <= 1 and "
            "0 <= --events-per-email <= 100, please."
        )
    check_columns()
    started = time.perf_counter()
    rng = random.Random(seed)
    owners = seed_users(users)
    counts = emails_per_user(emails, users, owner_share)
    generator = _Generator(connection.vendor == "postgresql", rng, events_per_email)
    collecting = gc.isenabled()
    gc.disable()  # millions of fresh tuples: the collector would rescan them all, often
    try:
        with _bulk_load(emails) as index_words:
            people = _write_people(generator, owners, counts)
            events = _write_emails(generator, owners, counts, people, progress, index_words)
        _reset_sequences()
    finally:
        if collecting:
            gc.enable()
    people_written = sum(count for _, count in people.values())
    return SeedResult(emails, people_written, events, owners, time.perf_counter() - started)


@dataclass
class _Plan:
    """What every chunk needs: shared with the producer process by fork, not by pickling."""

    generator: _Generator
    owners: list[int]  # one entry per email, in id order
    first_id: int
    people: dict[int, tuple[int, int]]
    folder: str = ""

    def rows(self, start: int) -> tuple[list[Row], list[Row]]:
        owners = self.owners[start : start + CHUNK]
        return self.generator.emails(self.first_id + start, owners, self.people)


_PLAN: _Plan | None = None  # set in the parent just before forking the producer


def _write_emails(
    generator: _Generator,
    owners: list[User],
    counts: list[int],
    people: dict[int, tuple[int, int]],
    progress: Progress | None,
    index_words: bool,
) -> int:
    """Write the emails chunk by chunk; returns the number of events written with them.
    `index_words`: the word index's triggers are off, each chunk goes into it as it is written."""
    # Interleaved like real life: each owner's emails spread over the whole id range.
    sequence = [owner.pk for owner, count in zip(owners, counts, strict=True) for _ in range(count)]
    generator.rng.shuffle(sequence)
    plan = _Plan(generator, sequence, _next_id("outbox_email"), people)
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        return _write_emails_in_parallel(plan, progress, index_words)
    return _write_emails_with_a_thread(plan, progress, index_words)


def _write_emails_with_a_thread(plan: _Plan, progress: Progress | None, index_words: bool) -> int:
    """The next chunk is generated in a thread while this one is written (COPY, or SQLite
    inside a caller's transaction)."""
    total = len(plan.owners)
    events = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(plan.rows, 0)
        for start in range(0, total, CHUNK):
            rows, chunk_events = pending.result()
            if start + CHUNK < total:
                pending = pool.submit(plan.rows, start + CHUNK)
            with transaction.atomic():
                _insert("outbox_email", EMAIL_COLUMNS, rows, EMAIL_CONSTANTS)
                _insert("outbox_event", EVENT_COLUMNS, chunk_events)
                if index_words:
                    fulltext.index_emails_from(connection, plan.first_id + start)
            events += len(chunk_events)
            if progress:
                progress(start + len(rows), total)
    return events


def _write_emails_in_parallel(plan: _Plan, progress: Progress | None, index_words: bool) -> int:
    """SQLite: a forked producer builds each chunk into a scratch database file (its own GIL,
    its own core) while this process copies the previous chunk over with INSERT … SELECT."""
    global _PLAN
    total = len(plan.owners)
    events = 0
    with tempfile.TemporaryDirectory(prefix="cc-seed-") as folder:
        plan.folder = folder
        _PLAN = plan
        try:
            with multiprocessing.get_context("fork").Pool(1) as pool:
                pending = pool.apply_async(_produce_chunk, (0,))
                for start in range(0, total, CHUNK):
                    path, count, chunk_events = pending.get()
                    if start + CHUNK < total:
                        pending = pool.apply_async(_produce_chunk, (start + CHUNK,))
                    _copy_chunk(path, plan.first_id + start if index_words else None)
                    events += chunk_events
                    if progress:
                        progress(start + count, total)
        finally:
            _PLAN = None
    return events


def _produce_chunk(start: int) -> tuple[str, int, int]:
    """In the producer: one chunk's rows into a new scratch file; (path, emails, events)."""
    assert _PLAN is not None
    rows, events = _PLAN.rows(start)
    path = os.path.join(_PLAN.folder, f"chunk-{start}.sqlite3")
    scratch = sqlite3.connect(path)
    try:
        scratch.execute("PRAGMA journal_mode = OFF")
        scratch.execute("PRAGMA synchronous = OFF")
        for table, columns, table_rows in (
            ("emails", EMAIL_COLUMNS, rows),
            ("events", EVENT_COLUMNS, events),
        ):
            names = ", ".join(columns)
            marks = ", ".join(["?"] * len(columns))
            scratch.execute(f"CREATE TABLE {table} ({names})")
            scratch.executemany(f"INSERT INTO {table} VALUES ({marks})", table_rows)  # noqa: S608
        scratch.commit()
    finally:
        scratch.close()
    return path, len(rows), len(events)


def _copy_chunk(path: str, index_words_from: int | None) -> None:
    emails = ", ".join([*EMAIL_COLUMNS, *EMAIL_CONSTANTS])
    select = _select_list(EMAIL_COLUMNS, EMAIL_CONSTANTS)
    events = ", ".join(EVENT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("ATTACH DATABASE %s AS chunk", [path])
        try:
            with transaction.atomic():
                cursor.execute(
                    f"INSERT INTO outbox_email ({emails}) SELECT {select} FROM chunk.emails"  # noqa: S608
                )
                cursor.execute(
                    f"INSERT INTO outbox_event ({events}) SELECT {events} FROM chunk.events"  # noqa: S608
                )
                if index_words_from is not None:
                    fulltext.index_emails_from(connection, index_words_from)
        finally:
            cursor.execute("DETACH DATABASE chunk")
    os.remove(path)


def _write_people(
    generator: _Generator, owners: list[User], counts: list[int]
) -> dict[int, tuple[int, int]]:
    """One person per EMAILS_PER_PERSON emails for each owner: owner id -> (first id, count)."""
    people: dict[int, tuple[int, int]] = {}
    person_id = _next_id("people_person")
    rows: list[Row] = []
    for owner, count in zip(owners, counts, strict=True):
        size = max(1, count // EMAILS_PER_PERSON)
        people[owner.pk] = (person_id, size)
        rows.extend(generator.people(owner.pk, person_id, size))
        person_id += size
    with transaction.atomic():
        _insert("people_person", PERSON_COLUMNS, rows)
    return people
