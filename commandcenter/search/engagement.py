"""Engagement the email row does not hold, kept by the database as events are inserted.

The email's own counters (opens, clicks, replies) count human events only. Triggers on
outbox_event keep `search_engagement`: opens and clicks with machine ones included (never
the sender's own), and the time of the first human open, click and reply ("within N days
of delivery"). Whoever writes an event — the tracking drain, inbound mail, the generator —
the row follows; `rebuild()` recomputes it from the events after a bulk load.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

KINDS = "('opened', 'clicked', 'replied')"

SQLITE_HUMAN = "COALESCE(json_extract({e}.data, '$.machine'), 0) IN (0, 'false')"
SQLITE_COUNTED = "COALESCE(json_extract({e}.data, '$.excluded'), 0) IN (0, 'false')"
POSTGRES_HUMAN = "COALESCE({e}.data -> 'machine' <> 'true'::jsonb, TRUE)"
POSTGRES_COUNTED = "COALESCE({e}.data -> 'excluded' <> 'true'::jsonb, TRUE)"


def _values(human: str) -> str:
    """The row one event adds, from NEW."""
    return f"""NEW.email_id,
        CASE WHEN NEW.kind = 'opened' THEN 1 ELSE 0 END,
        CASE WHEN NEW.kind = 'clicked' THEN 1 ELSE 0 END,
        CASE WHEN NEW.kind = 'opened' AND {human} THEN NEW.created_at END,
        CASE WHEN NEW.kind = 'clicked' AND {human} THEN NEW.created_at END,
        CASE WHEN NEW.kind = 'replied' THEN NEW.created_at END"""


COLUMNS = "email_id, opens_all, clicks_all, first_open_at, first_click_at, first_reply_at"

SQLITE_TRIGGER = f"""CREATE TRIGGER IF NOT EXISTS search_engagement_event
    AFTER INSERT ON outbox_event
    WHEN NEW.kind IN {KINDS} AND json_valid(NEW.data) AND {SQLITE_COUNTED.format(e="NEW")}
    BEGIN
        INSERT INTO search_engagement ({COLUMNS})
        VALUES ({_values(SQLITE_HUMAN.format(e="NEW"))})
        ON CONFLICT (email_id) DO UPDATE SET
            opens_all = opens_all + excluded.opens_all,
            clicks_all = clicks_all + excluded.clicks_all,
            first_open_at = COALESCE(
                MIN(first_open_at, excluded.first_open_at), first_open_at, excluded.first_open_at),
            first_click_at = COALESCE(
                MIN(first_click_at, excluded.first_click_at), first_click_at,
                excluded.first_click_at),
            first_reply_at = COALESCE(
                MIN(first_reply_at, excluded.first_reply_at), first_reply_at,
                excluded.first_reply_at);
    END"""

POSTGRES_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION search_engagement_event() RETURNS trigger AS $$
    BEGIN
        IF NOT {POSTGRES_COUNTED.format(e="NEW")} THEN
            RETURN NULL;
        END IF;
        INSERT INTO search_engagement AS e ({COLUMNS})
        VALUES ({_values(POSTGRES_HUMAN.format(e="NEW"))})
        ON CONFLICT (email_id) DO UPDATE SET
            opens_all = e.opens_all + EXCLUDED.opens_all,
            clicks_all = e.clicks_all + EXCLUDED.clicks_all,
            first_open_at = LEAST(e.first_open_at, EXCLUDED.first_open_at),
            first_click_at = LEAST(e.first_click_at, EXCLUDED.first_click_at),
            first_reply_at = LEAST(e.first_reply_at, EXCLUDED.first_reply_at);
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE TRIGGER search_engagement_event AFTER INSERT ON outbox_event
    FOR EACH ROW WHEN (NEW.kind IN {KINDS}) EXECUTE FUNCTION search_engagement_event()""",
]
SQLITE_DROP = "DROP TRIGGER IF EXISTS search_engagement_event"
POSTGRES_DROP = "DROP TRIGGER IF EXISTS search_engagement_event ON outbox_event"


def install_triggers(conn: BaseDatabaseWrapper) -> None:
    statements = POSTGRES_TRIGGERS if conn.vendor == "postgresql" else [SQLITE_TRIGGER]
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def drop_triggers(conn: BaseDatabaseWrapper) -> None:
    with conn.cursor() as cursor:
        cursor.execute(POSTGRES_DROP if conn.vendor == "postgresql" else SQLITE_DROP)


def rebuild(conn: BaseDatabaseWrapper = connection) -> None:
    """Recompute every row from the events (after a bulk load with the trigger off)."""
    postgres = conn.vendor == "postgresql"
    human = (POSTGRES_HUMAN if postgres else SQLITE_HUMAN).format(e="ev")
    counted = (POSTGRES_COUNTED if postgres else SQLITE_COUNTED).format(e="ev")
    valid = "" if postgres else "AND json_valid(ev.data)"
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute("DELETE FROM search_engagement")
        cursor.execute(
            f"""INSERT INTO search_engagement ({COLUMNS})
            SELECT ev.email_id,
                SUM(CASE WHEN ev.kind = 'opened' THEN 1 ELSE 0 END),
                SUM(CASE WHEN ev.kind = 'clicked' THEN 1 ELSE 0 END),
                MIN(CASE WHEN ev.kind = 'opened' AND {human} THEN ev.created_at END),
                MIN(CASE WHEN ev.kind = 'clicked' AND {human} THEN ev.created_at END),
                MIN(CASE WHEN ev.kind = 'replied' THEN ev.created_at END)
            FROM outbox_event ev
            WHERE ev.kind IN {KINDS} {valid} AND {counted}
            GROUP BY ev.email_id"""  # noqa: S608 -- constants of this module only
        )
