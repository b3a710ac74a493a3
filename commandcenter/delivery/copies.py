"""Keeping the exact message of each handoff ("Show original" on the email's page)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

from commandcenter.delivery.courier import Handover
from commandcenter.delivery.message import serialize
from commandcenter.delivery.models import SentMessage


def keep_sent_messages(handovers: Iterable[Handover]) -> None:
    """Store the bytes of these handoffs, one row an email (a later attempt replaces it).

    Run inside the transaction of the handoff stamps: the copy becomes durable with the
    stamp, before the SMTP transaction starts, so what went out is always on record.
    """
    now = timezone.now()
    rows = [_row(handover, now) for handover in handovers]
    if rows:
        SentMessage.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["email"],
            update_fields=["compressed", "via", "handed_over_at"],
        )


def _row(handover: Handover, now: dt.datetime) -> SentMessage:
    outgoing = handover.outgoing
    if outgoing.data:
        raw, via = outgoing.data, SentMessage.Via.SMTP
    else:
        # An ESP builds its own MIME from the same parts: this is our rendition of it.
        raw, via = serialize(outgoing.message.message()), SentMessage.Via.BACKEND
    return SentMessage(
        email_id=handover.email.pk,
        compressed=SentMessage.pack(raw),
        via=via,
        handed_over_at=now,
    )
