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


SQLITE_DELAY = "(julianday({e}.created_at) - julianday(em.sent_at)) * 86400.0"
POSTGRES_DELAY = "EXTRACT(EPOCH FROM ({e}.created_at - em.sent_at))"


def _values(human: str, delay: str) -> str:
    """The row one event adds, from NEW and its email `em`."""
    return f"""NEW.email_id, em.owner_id,
        CASE WHEN NEW.kind = 'opened' THEN 1 ELSE 0 END,
        CASE WHEN NEW.kind = 'clicked' THEN 1 ELSE 0 END,
        CASE WHEN NEW.kind = 'opened' AND {human} THEN {delay} END,
        CASE WHEN NEW.kind = 'clicked' AND {human} THEN {delay} END,
        CASE WHEN NEW.kind = 'replied' THEN {delay} END"""


COLUMNS = (
    "email_id, owner_id, opens_all, clicks_all, first_open_after, first_click_after, "
    "first_reply_after"
)

# The SQL below is made of this module's constants only (no input reaches it).
SQLITE_TRIGGER = f"""CREATE TRIGGER IF NOT EXISTS search_engagement_event
    AFTER INSERT ON outbox_event
    WHEN NEW.kind IN {KINDS} AND json_valid(NEW.data) AND {SQLITE_COUNTED.format(e="NEW")}
    BEGIN
        INSERT INTO search_engagement ({COLUMNS})
        SELECT {_values(SQLITE_HUMAN.format(e="NEW"), SQLITE_DELAY.format(e="NEW"))}
        FROM outbox_email em WHERE em.id = NEW.email_id
        ON CONFLICT (email_id) DO UPDATE SET
            opens_all = opens_all + excluded.opens_all,
            clicks_all = clicks_all + excluded.clicks_all,
            first_open_after = COALESCE(MIN(first_open_after, excluded.first_open_after),
                                        first_open_after, excluded.first_open_after),
            first_click_after = COALESCE(MIN(first_click_after, excluded.first_click_after),
                                         first_click_after, excluded.first_click_after),
            first_reply_after = COALESCE(MIN(first_reply_after, excluded.first_reply_after),
                                         first_reply_after, excluded.first_reply_after);
    END"""  # noqa: S608

POSTGRES_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION search_engagement_event() RETURNS trigger AS $$
    BEGIN
        IF NOT {POSTGRES_COUNTED.format(e="NEW")} THEN
            RETURN NULL;
        END IF;
        INSERT INTO search_engagement AS e ({COLUMNS})
        SELECT {_values(POSTGRES_HUMAN.format(e="NEW"), POSTGRES_DELAY.format(e="NEW"))}
        FROM outbox_email em WHERE em.id = NEW.email_id
        ON CONFLICT (email_id) DO UPDATE SET
            opens_all = e.opens_all + EXCLUDED.opens_all,
            clicks_all = e.clicks_all + EXCLUDED.clicks_all,
            first_open_after = LEAST(e.first_open_after, EXCLUDED.first_open_after),
            first_click_after = LEAST(e.first_click_after, EXCLUDED.first_click_after),
            first_reply_after = LEAST(e.first_reply_after, EXCLUDED.first_reply_after);
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",  # noqa: S608
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
    delay = (POSTGRES_DELAY if postgres else SQLITE_DELAY).format(e="ev")
    valid = "" if postgres else "AND json_valid(ev.data)"
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute("DELETE FROM search_engagement")
        cursor.execute(
            f"""INSERT INTO search_engagement ({COLUMNS})
            SELECT ev.email_id, MIN(em.owner_id),
                SUM(CASE WHEN ev.kind = 'opened' THEN 1 ELSE 0 END),
                SUM(CASE WHEN ev.kind = 'clicked' THEN 1 ELSE 0 END),
                MIN(CASE WHEN ev.kind = 'opened' AND {human} THEN {delay} END),
                MIN(CASE WHEN ev.kind = 'clicked' AND {human} THEN {delay} END),
                MIN(CASE WHEN ev.kind = 'replied' THEN {delay} END)
            FROM outbox_event ev JOIN outbox_email em ON em.id = ev.email_id
            WHERE ev.kind IN {KINDS} {valid} AND {counted}
            GROUP BY ev.email_id"""  # noqa: S608 -- constants of this module only
        )
