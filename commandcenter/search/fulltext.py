"""Word search of an email's subject and body, fast on both databases.

SQLite: a contentless FTS5 table (it stores only the index) kept current by triggers on
outbox_email; besides the subject and body it indexes a token for the email's owner ("o42"),
so a rep's word search intersects two lists inside FTS5 instead of testing every email that
has the word. PostgreSQL: a GIN index on the words of the subject and body and the owner's
token "@42", and tokens of the email's human engagement ("!c1": clicked; see
ENGAGEMENT_LEVELS) — an expression index: the database keeps it current by itself. The words
to look for always travel as a query parameter; on SQLite each one is quoted as an FTS5
string, so no character of the user's text is FTS5 syntax either.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.expressions import RawSQL

MAX_WORDS = 20
WORD = re.compile(r"\w+", re.UNICODE)
# Must be the very expression of the index for PostgreSQL to use it. Everything but word
# characters becomes a space first: PostgreSQL's parser would otherwise read "<b>" as a tag
# (and drop it) or "a.b" as a host name, and split text differently from words_of(). The
# owner's token ("@42", a lexeme as it is: no word has an "@") lets the index itself intersect
# a rep's emails with the words' emails. No weights: a query with weights makes the index
# recheck every row it finds, i.e. run the text functions on each (a second at 20,000 rows).
PG_WORDS = "regexp_replace({t}subject || ' ' || {t}body_text, '\\W+', ' ', 'g')"
# Human engagement as tokens too: "!c2" is "at least 2 clicks" (a "!" is in no word either).
# A word search beside an engagement condition ("question", clicked) then finds the few
# emails with both inside the index, instead of reading every email with the word from the
# table to test its clicks there (a common word: 20,000 rows read for 3,000 kept). The
# columns are indexed elsewhere already (search_email_engagement), so a click that changes
# them rewrote this index's entry before: the tokens cost no extra write.
ENGAGEMENT_LEVELS = (1, 2, 3, 5, 10)
ENGAGEMENT_LETTERS = {"opens": "o", "clicks": "c", "replies": "r"}
PG_ENGAGEMENT = ", ".join(
    f"CASE WHEN {{t}}{column} >= {level} THEN '!{letter}{level}' END"
    for column, letter in ENGAGEMENT_LETTERS.items()
    for level in ENGAGEMENT_LEVELS
)
PG_DOCUMENT = (
    "(to_tsvector('simple', " + PG_WORDS + ") || "
    "array_to_tsvector(array_remove(ARRAY['@' || {t}owner_id::text, " + PG_ENGAGEMENT + "], NULL)))"
)
# The words (to_tsquery: normalised as the document's words are) and the owners' tokens with
# the engagement's (a tsquery literal: "'@42' & '!c1'" as it is).
PG_MATCH = "{document} @@ (to_tsquery('simple', %s) && %s::tsquery)"

SQLITE_TABLE = """CREATE VIRTUAL TABLE IF NOT EXISTS search_email_fts USING fts5(
    subject, body_text, owner, content='', tokenize='unicode61 remove_diacritics 2')"""
_ADD = """INSERT INTO search_email_fts (rowid, subject, body_text, owner)
        VALUES (NEW.id, NEW.subject, NEW.body_text, 'o' || NEW.owner_id);"""
_REMOVE = """INSERT INTO search_email_fts (search_email_fts, rowid, subject, body_text, owner)
        VALUES ('delete', OLD.id, OLD.subject, OLD.body_text, 'o' || OLD.owner_id);"""
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS search_email_fts_insert AFTER INSERT ON outbox_email BEGIN
        {_ADD}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS search_email_fts_delete AFTER DELETE ON outbox_email BEGIN
        {_REMOVE}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS search_email_fts_update
    AFTER UPDATE OF subject, body_text, owner_id ON outbox_email BEGIN
        {_REMOVE}
        {_ADD}
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_email_fts_insert",
    "DROP TRIGGER IF EXISTS search_email_fts_delete",
    "DROP TRIGGER IF EXISTS search_email_fts_update",
]
SQLITE_REBUILD = [
    "INSERT INTO search_email_fts (search_email_fts) VALUES ('delete-all')",
    "INSERT INTO search_email_fts (rowid, subject, body_text, owner) "
    "SELECT id, subject, body_text, 'o' || owner_id FROM outbox_email",
]
POSTGRES_INDEX = (
    "CREATE INDEX IF NOT EXISTS search_email_words ON outbox_email "
    f"USING GIN ({PG_DOCUMENT.format(t='')})"
)


def words_of(text: str) -> tuple[str, ...]:
    """The words of the user's text, as the index splits them (at most MAX_WORDS)."""
    return tuple(dict.fromkeys(word.lower() for word in WORD.findall(text)))[:MAX_WORDS]


def matching(
    words: tuple[str, ...], owner_ids: tuple[int, ...], engagement: tuple[str, ...] = ()
) -> Q:
    """Emails of these owners whose subject or body has every one of the words. `engagement`:
    terms of engagement_terms() that the rest of the filter implies (PostgreSQL narrows the
    index's answer by them; the filter's own conditions still decide)."""
    if connection.vendor == "postgresql":
        # The index intersects the owners' token with the words: a rep's few matches, found
        # once per query. OFFSET 0 keeps the subquery whole: merged into the outer query, the
        # planner may test the condition on each of the rep's emails instead (the text
        # functions per row: seconds at 100,000).
        condition = PG_MATCH.format(document=PG_DOCUMENT.format(t=""))
        sql = f"SELECT id FROM outbox_email WHERE {condition} OFFSET 0"  # noqa: S608
        return Q(pk__in=RawSQL(sql, postgres_query(words, owner_ids, engagement)))  # noqa: S611
    return Q(pk__in=RawSQL(SQLITE_MATCH, [sqlite_query(words, owner_ids)]))  # noqa: S611


def postgres_query(
    words: tuple[str, ...], owner_ids: tuple[int, ...], engagement: tuple[str, ...] = ()
) -> list[str]:
    """The two tsqueries: every word, and one of the owners' tokens with the engagement terms.
    Words are runs of word characters (words_of), ids integers and the terms ours, so quoting
    them leaves nothing to parse."""
    owners = "(" + (" | ".join(f"'@{int(pk)}'" for pk in owner_ids) or "'@0'") + ")"
    return [" & ".join(f"'{word}'" for word in words), " & ".join((owners, *engagement))]


def engagement_terms(column: str, op: str, value: object) -> tuple[str, ...]:
    """The tokens' tsquery terms every email meeting "column op value" (a human count) has:
    a superset of those emails, never fewer. "clicks >= 4" is "'!c3'" (at least 3), "opens = 0"
    "!'!o1'", "replies between 1 and 4" "'!r1' & !'!r5'"; () where the tokens tell nothing."""
    letter = ENGAGEMENT_LETTERS.get(column)
    if letter is None:
        return ()
    low: int | None = None
    high: int | None = None
    if op in ("gte", "eq") and isinstance(value, int):
        low = value
    if op in ("lte", "eq") and isinstance(value, int):
        high = value
    if op == "between" and isinstance(value, tuple):
        low, high = sorted(value)
    terms = []
    reached = [level for level in ENGAGEMENT_LEVELS if low is not None and level <= low]
    if reached:
        terms.append(f"'!{letter}{reached[-1]}'")
    beyond = [level for level in ENGAGEMENT_LEVELS if high is not None and level > high]
    if beyond:
        terms.append(f"!'!{letter}{beyond[0]}'")
    return tuple(terms)


SQLITE_MATCH = "SELECT rowid FROM search_email_fts WHERE search_email_fts MATCH %s"


def sqlite_query(words: tuple[str, ...], owner_ids: tuple[int, ...]) -> str:
    """The FTS5 query: every word, each quoted as a string, in the subject or body, of an
    email of one of the owners (ids are integers: their tokens are ours)."""
    phrases = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    owners = " OR ".join(f"o{int(pk)}" for pk in owner_ids) or "o0"
    return f"owner:({owners}) AND {{subject body_text}}:({phrases})"


def install(conn: BaseDatabaseWrapper) -> None:
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(POSTGRES_INDEX)
            return
        cursor.execute(SQLITE_TABLE)
        for statement in SQLITE_TRIGGERS:
            cursor.execute(statement)


def uninstall(conn: BaseDatabaseWrapper) -> None:
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS search_email_words")
            return
        for statement in SQLITE_DROP:
            cursor.execute(statement)
        cursor.execute("DROP TABLE IF EXISTS search_email_fts")


def replace_postgres_index(conn: BaseDatabaseWrapper, document: str) -> None:
    """The word index made anew on `document` (for migrations that change its expression;
    they must not be atomic). It is built beside the old one without locking out writes — at
    a million emails the build takes tens of seconds, which the sender and the tracking
    drain would otherwise wait out — then swapped in."""
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        # What a build broken off before left behind (an invalid index).
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS search_email_words_new")
        cursor.execute(
            "CREATE INDEX CONCURRENTLY search_email_words_new ON outbox_email "
            f"USING GIN ({document})"
        )
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS search_email_words")
        cursor.execute("ALTER INDEX search_email_words_new RENAME TO search_email_words")


def drop_triggers(conn: BaseDatabaseWrapper) -> None:
    """For a bulk load (SQLite; PostgreSQL's index is dropped and rebuilt with the others)."""
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            for statement in SQLITE_DROP:
                cursor.execute(statement)


def index_emails_from(conn: BaseDatabaseWrapper, first_id: int) -> None:
    """During a bulk load with the triggers off: the emails from `first_id` on, none of them in
    the index yet, into it (SQLite) in one statement instead of a trigger run per row."""
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            cursor.execute(SQLITE_REBUILD[1] + " WHERE id >= %s", [first_id])


def install_triggers(conn: BaseDatabaseWrapper) -> None:
    """After a bulk load: the triggers back (SQLite)."""
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            for statement in SQLITE_TRIGGERS:
                cursor.execute(statement)
