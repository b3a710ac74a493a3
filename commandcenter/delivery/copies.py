"""Keeping the exact message of each handoff ("Show original" on the email's page)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from commandcenter.delivery.courier import Handover, Outcome
from commandcenter.delivery.mime import message_bytes
from commandcenter.delivery.models import SentMessage
from commandcenter.delivery.records import value_rows
from commandcenter.delivery.transport import SEVEN_BIT, seven_bit

# One row an email: a later attempt replaces the copy of the one before. Plain SQL (the
# same statement on SQLite and PostgreSQL): the ORM's bulk_create with update_conflicts
# cost more than compressing the messages.
KEEP_SQL = (
    'INSERT INTO "delivery_sentmessage" ("email_id", "compressed", "via", "handed_over_at") '
    'VALUES {rows} ON CONFLICT ("email_id") DO UPDATE SET "compressed" = EXCLUDED."compressed", '
    '"via" = EXCLUDED."via", "handed_over_at" = EXCLUDED."handed_over_at"'
)
# Rows per statement: well within SQLite's 32,766 and PostgreSQL's 65,535 parameters.
ROWS_PER_INSERT = 500


def keep_sent_messages(handovers: Iterable[Handover]) -> None:
    """Store the bytes of these handoffs, one row an email (a later attempt replaces it).

    Run inside the transaction of the handoff stamps: the copy becomes durable with the
    stamp, before the SMTP transaction starts, so what went out is always on record.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [_row(handover, now) for handover in handovers]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            cursor.execute(
                KEEP_SQL.format(rows=value_rows(len(chunk), 4)),
                [value for row in chunk for value in row],
            )


def _row(handover: Handover, now: Any) -> tuple[int, bytes, str, Any]:
    outgoing = handover.outgoing
    if outgoing.data:
        raw, via = outgoing.data, SentMessage.Via.SMTP
    else:
        # An ESP builds its own MIME from the same parts: this is our rendition of it.
        raw, via = message_bytes(outgoing.message), SentMessage.Via.BACKEND
    return (handover.email.pk, SentMessage.pack(raw), str(via), now)


def keep_as_sent(outcomes: Iterable[Outcome]) -> None:
    """For a server without 8BITMIME the courier made the message 7-bit (transport.fit_for)
    after its copy was kept: the copy becomes the bytes that server got (the same function
    of the same bytes). Run in the transaction that records the outcomes."""
    for outcome in outcomes:
        if outcome.receipt is None or not outcome.receipt.data.get(SEVEN_BIT):
            continue
        sent = seven_bit(outcome.handover.outgoing.data)
        SentMessage.objects.filter(email_id=outcome.handover.email.pk).update(
            compressed=SentMessage.pack(sent)
        )
