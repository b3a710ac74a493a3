"""Folder counts that cost the same for a rep with 100 emails as for one with 100,000.

The counts are a cache of the email table, kept by the database itself: triggers on
`outbox_email` append a row to `outbox_foldercountdelta` for every insert, status or owner
change and delete — whoever writes (the ORM, the state machine, the bulk generator, a
person in psql). Appending never contends, so concurrent workers never wait on a hot
counter row nor deadlock on two of them. `compact()` folds the deltas into
`outbox_foldercount`, one row per (owner, status); a reader adds the few deltas not yet
folded, so a count is always exact.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

# Compact when a read sees more unfolded deltas than this (the worker compacts too).
COMPACT_AFTER = 2_000
# Any fixed number: the PostgreSQL advisory lock that lets one compaction run at a time.
COMPACT_LOCK = 7_400_113

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS outbox_email_count_insert AFTER INSERT ON outbox_email
    BEGIN
        INSERT INTO outbox_foldercountdelta (owner_id, status, delta)
        VALUES (NEW.owner_id, NEW.status, 1);
    END""",
    """CREATE TRIGGER IF NOT EXISTS outbox_email_count_update
    AFTER UPDATE OF status, owner_id ON outbox_email
    WHEN OLD.status IS NOT NEW.status OR OLD.owner_id IS NOT NEW.owner_id
    BEGIN
        INSERT INTO outbox_foldercountdelta (owner_id, status, delta)
        VALUES (OLD.owner_id, OLD.status, -1), (NEW.owner_id, NEW.status, 1);
    END""",
    """CREATE TRIGGER IF NOT EXISTS outbox_email_count_delete AFTER DELETE ON outbox_email
    BEGIN
        INSERT INTO outbox_foldercountdelta (owner_id, status, delta)
        VALUES (OLD.owner_id, OLD.status, -1);
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS outbox_email_count_insert",
    "DROP TRIGGER IF EXISTS outbox_email_count_update",
    "DROP TRIGGER IF EXISTS outbox_email_count_delete",
]

POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION outbox_email_count() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO outbox_foldercountdelta (owner_id, status, delta)
            VALUES (OLD.owner_id, OLD.status, -1);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO outbox_foldercountdelta (owner_id, status, delta)
            VALUES (NEW.owner_id, NEW.status, 1);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER outbox_email_count_insert_delete
    AFTER INSERT OR DELETE ON outbox_email
    FOR EACH ROW EXECUTE FUNCTION outbox_email_count()""",
    """CREATE OR REPLACE TRIGGER outbox_email_count_update
    AFTER UPDATE OF status, owner_id ON outbox_email FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)
    EXECUTE FUNCTION outbox_email_count()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS outbox_email_count_insert_delete ON outbox_email",
    "DROP TRIGGER IF EXISTS outbox_email_count_update ON outbox_email",
]


def install_triggers(conn: BaseDatabaseWrapper) -> None:
    statements = POSTGRES_TRIGGERS if conn.vendor == "postgresql" else SQLITE_TRIGGERS
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def drop_triggers(conn: BaseDatabaseWrapper) -> None:
    statements = POSTGRES_DROP if conn.vendor == "postgresql" else SQLITE_DROP
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def rebuild(conn: BaseDatabaseWrapper = connection) -> None:
    """Recount every folder from the email table (after a bulk load with triggers off)."""
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute("DELETE FROM outbox_foldercountdelta")
        cursor.execute("DELETE FROM outbox_foldercount")
        cursor.execute(
            "INSERT INTO outbox_foldercount (owner_id, status, n) "
            "SELECT owner_id, status, COUNT(*) FROM outbox_email GROUP BY owner_id, status"
        )


def compact() -> int:
    """Fold the appended deltas into the counts; how many deltas were folded."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [COMPACT_LOCK])
            if not cursor.fetchone()[0]:
                return 0  # another process is compacting right now
            # One statement: exactly the deltas it deletes are the ones it adds, whatever
            # commits meanwhile (ids are not assigned in commit order).
            cursor.execute(
                """WITH moved AS (
                    DELETE FROM outbox_foldercountdelta RETURNING owner_id, status, delta
                ),
                summed AS (
                    SELECT owner_id, status, SUM(delta) AS n, COUNT(*) AS rows
                    FROM moved GROUP BY owner_id, status
                ),
                folded AS (
                    INSERT INTO outbox_foldercount (owner_id, status, n)
                    SELECT owner_id, status, n FROM summed
                    ON CONFLICT (owner_id, status)
                    DO UPDATE SET n = outbox_foldercount.n + EXCLUDED.n
                )
                SELECT COALESCE(SUM(rows), 0) FROM summed"""
            )
            return int(cursor.fetchone()[0])
        # SQLite: the IMMEDIATE transaction holds the only write lock, so read-then-delete
        # sees exactly what it deletes.
        cursor.execute("SELECT MAX(id), COUNT(*) FROM outbox_foldercountdelta")
        last, folded = cursor.fetchone()
        if not last:
            return 0
        cursor.execute(
            """INSERT INTO outbox_foldercount (owner_id, status, n)
            SELECT owner_id, status, SUM(delta) FROM outbox_foldercountdelta WHERE id <= %s
            GROUP BY owner_id, status
            ON CONFLICT (owner_id, status) DO UPDATE SET n = n + excluded.n""",
            [last],
        )
        cursor.execute("DELETE FROM outbox_foldercountdelta WHERE id <= %s", [last])
        return int(folded)


def counts_by_status(owner_ids: Iterable[int]) -> dict[str, int]:
    """{status: number of emails} for these owners: folded counts plus pending deltas."""
    owners = list(owner_ids)
    if not owners:
        return {}
    marks = ", ".join(["%s"] * len(owners))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT status, SUM(n), SUM(pending) FROM (
                SELECT status, n, 0 AS pending FROM outbox_foldercount WHERE owner_id IN ({marks})
                UNION ALL
                SELECT status, delta, 1 FROM outbox_foldercountdelta WHERE owner_id IN ({marks})
            ) AS parts GROUP BY status""",  # noqa: S608 -- only %s placeholders are joined in
            owners + owners,
        )
        rows = cursor.fetchall()
    if sum(int(pending) for _, _, pending in rows) > COMPACT_AFTER:
        compact()
    return {status: int(n) for status, n, _ in rows}
