"""The generator's bulk load leaves what the app's own writes would: the same word index, the
same engagement rows and folder counts as emails and events created through the ORM (with
every trigger firing), and its triggers, indexes and connection settings back in place."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from commandcenter.demo import synthetic
from commandcenter.outbox import counts
from commandcenter.outbox.models import Email, Event
from commandcenter.search import fulltext
from commandcenter.search.models import Engagement

# Searches with no match, one word, words from subject and body together, and a diacritic
# (the generated last names include "Müller").
EXTRA_QUERIES = [("nothing",), ("quick", "acme"), ("hi", "call", "week"), ("muller",)]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 700 emails, so a small seed is written in several."""
    monkeypatch.setattr(synthetic, "CHUNK", 700)


def _seed(monkeypatch: pytest.MonkeyPatch, emails: int, *, bulk: bool, seed: int) -> None:
    # The bulk load (triggers off, indexes dropped, everything rebuilt at the end) starts at
    # BULK_LOAD_MIN new emails; the test sets the bar to take it or not with a few thousand.
    monkeypatch.setattr(synthetic, "BULK_LOAD_MIN", 0 if bulk else 10**9)
    synthetic.generate(emails, users=3, owner_share=0.5, seed=seed, events_per_email=6)


def _schema() -> tuple[set[str], set[str]]:
    """The names of the triggers and indexes on the email and event tables."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'index') "
                "AND tbl_name IN ('outbox_email', 'outbox_event')"
            )
            rows = cursor.fetchall()
        else:
            cursor.execute(
                "SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid IN ('outbox_email'::regclass, 'outbox_event'::regclass) "
                "UNION SELECT 'index', indexname FROM pg_indexes "
                "WHERE tablename IN ('outbox_email', 'outbox_event')"
            )
            rows = cursor.fetchall()
    return {n for kind, n in rows if kind == "trigger"}, {n for kind, n in rows if kind == "index"}


def _settings() -> dict[str, Any]:
    if connection.vendor != "sqlite":
        return {}
    with connection.cursor() as cursor:
        values = {}
        for name in ("journal_mode", "analysis_limit", *synthetic.BULK_PRAGMAS):
            cursor.execute(f"PRAGMA {name}")
            values[name] = cursor.fetchone()[0]
        return values


def _answers() -> dict[str, Any]:
    """Every word search of every owner (and of all of them), the engagement rows, the counts."""
    emails = list(Email.objects.values_list("subject", "body_text"))
    words = sorted({w for text in emails for w in fulltext.words_of(" ".join(text))})
    owners = sorted(set(Email.objects.values_list("owner_id", flat=True)))
    assert len(words) > 30 and len(owners) == 3
    searches = {}
    for query in [(word,) for word in words] + EXTRA_QUERIES:
        for who in [(owner,) for owner in owners] + [tuple(owners)]:
            found = Email.objects.filter(fulltext.matching(query, who)).values_list("pk", flat=True)
            searches[query, who] = sorted(found)
    engagement = [
        (*row[:4], *(None if delay is None else round(delay, 3) for delay in row[4:]))
        for row in Engagement.objects.order_by("email_id").values_list(
            "email_id", "owner_id", "opens_all", "clicks_all", "first_open_after",
            "first_click_after", "first_reply_after",
        )
    ]  # fmt: skip
    return {
        "word index": _word_index(),
        "searches": searches,
        "engagement": engagement,
        "counts": {owner: counts.counts_by_status([owner]) for owner in owners},
    }


def _word_index() -> list[tuple[Any, ...]]:
    """SQLite: every word of the FTS5 index with the row, column and place it is at (the
    index's whole content: a row indexed twice, or a word missing, shows)."""
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_email_words "
            "USING fts5vocab(main, search_email_fts, instance)"
        )
        cursor.execute("SELECT term, doc, col, offset FROM temp.search_email_words")
        return sorted(cursor.fetchall())


def _made_again_through_the_orm() -> None:
    """Every email and event deleted and created again by the ORM, the triggers firing."""
    emails = [Email(**row) for row in Email.objects.order_by("pk").values()]
    events = [Event(**row) for row in Event.objects.order_by("pk").values()]
    Event.objects.all().delete()
    Engagement.objects.all().delete()
    Email.objects.all().delete()
    assert _word_index() == []
    Email.objects.bulk_create(emails, batch_size=500)
    Event.objects.bulk_create(events, batch_size=500)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-load", "row-by-row"])
def test_the_generator_leaves_what_the_orm_and_its_triggers_would(
    transactional_db, monkeypatch, bulk
):
    triggers, indexes = _schema()
    settings = _settings()
    # Some emails first: a bulk load on top of them indexes only the new ones, once each.
    _seed(monkeypatch, 400, bulk=False, seed=2)
    _seed(monkeypatch, 3000, bulk=bulk, seed=3)

    assert _schema() == (triggers, indexes)
    assert _settings() == settings
    assert Email.objects.count() == 3400
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # FTS5's check of its own structure: raises if bad
            cursor.execute(
                "INSERT INTO search_email_fts (search_email_fts) VALUES ('integrity-check')"
            )
    generated = _answers()
    assert generated["engagement"], "events of engagement were generated"
    assert any(generated["searches"].values())
    _made_again_through_the_orm()
    assert _answers() == generated
