"""Applying one message for `commandcenter ingest`: what it prints and the status it exits
with. The command (in-process) and the worker's hand-off server (signals/handoff.py) both
call `ingest_one`, so a message piped to either is treated alike."""

from __future__ import annotations

from django.db import DatabaseError, connections

from commandcenter.signals.apply import apply_inbound, is_temporary_failure
from commandcenter.signals.handoff import Envelope, Outcome
from commandcenter.signals.pipe import EX_OK, EX_TEMPFAIL, deferral_line


def ingest_one(raw: bytes, envelope: Envelope) -> Outcome:
    """Store and apply the message: 0 with what it was and which emails it matched; 75 when
    the database is temporarily unavailable. Other errors propagate (the caller defers)."""
    try:
        result = apply_inbound(
            raw,
            source=envelope.source,
            envelope_sender=envelope.sender,
            envelope_recipient=envelope.recipient,
        )
    except DatabaseError as error:
        if not is_temporary_failure(error):
            raise
        return Outcome(
            EX_TEMPFAIL, stderr=deferral_line(f"temporary failure, try again later: {error}")
        )
    matched = ", ".join(str(i) for i in result.email_ids) or "no email"
    seen = " (seen before)" if result.duplicate else ""
    return Outcome(EX_OK, stdout=f"{result.kind}: {matched}{seen}")


def ingest_handed_off(raw: bytes, envelope: Envelope) -> Outcome:
    """The worker's side of a hand-off: each in a thread of its own, whose database
    connection is closed when it is done (the thread ends; its connection must not linger)."""
    try:
        return ingest_one(raw, envelope)
    finally:
        connections.close_all()
