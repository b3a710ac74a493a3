"""The sender: claims due emails, hands each to the mail server at most once, records the outcome.

Crash safety rests on one committed write per email: just before its SMTP transaction the
worker stores the Message-ID and `handoff_started_at` (conditional on still holding the
claim). After a crash, an email In Progress without that stamp was provably never handed
over and goes back to Scheduled; one with it may have been delivered, so it goes to Failed
with "delivery unknown" and only a person can send it again. No email is ever re-sent
automatically once its handoff started.

For each claimed email, in this order: too late -> Failed; blocked recipient or a merge
field that cannot be filled -> Failed; then the handoff. The server's answer decides the
rest: accepted -> Delivered; 5xx -> Failed with the server's words; 4xx, refused, dropped
or stalled connection -> back to Scheduled with a backoff, until the retry window closes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import secrets
import socket
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from commandcenter.delivery.message import build_message, new_message_id
from commandcenter.delivery.queue import claim_due, recover_stale
from commandcenter.delivery.transport import DeliveryError, Outgoing, Receipt, Transport
from commandcenter.outbox.merge import MissingMergeField
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status, transition_many
from commandcenter.people.services import blocking_reasons

log = logging.getLogger(__name__)

# Backoff never waits longer than this between two attempts.
MAX_BACKOFF_SECONDS = 3600


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff_seconds(attempt: int, base: int) -> float:
    """Exponential backoff with jitter: about base·2^(attempt-1), between half and all of it.

    The jitter spreads the retries of a batch that failed together (a server that was down).
    """
    ceiling = min(base * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def human_duration(delta: dt.timedelta) -> str:
    """'7 h 12 min', '2 d 3 h', '45 s': how a rep would say it."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def relaxed_commit() -> None:
    """Inside a transaction: let its commit return before the WAL reaches the disk (PostgreSQL).

    Used for every write of the sender but the handoff stamp. Losing a recent outcome in a
    *database* crash leaves the email In Progress, and recovery then treats it conservatively
    (never started -> sent again; handoff started -> "delivery unknown"): never a duplicate.
    The handoff stamp itself is committed durably before the SMTP transaction starts. This
    saves one disk flush per email.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")


class Sender:
    """One worker's sender. `run_once` is one pass; the worker command loops over it."""

    def __init__(self, worker_id: str | None = None, *, batch_size: int | None = None) -> None:
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.batch_size = batch_size or settings.SEND_BATCH_SIZE

    def run_once(self) -> int:
        """Recover stale leases, claim one batch of due emails, send them; number handled."""
        recovered = recover_stale()
        claimed = claim_due(
            self.worker_id,
            limit=self.batch_size,
            lease_seconds=settings.IN_PROGRESS_LEASE_SECONDS,
        )
        if claimed:
            self.send_batch(claimed)
        return recovered + len(claimed)

    def drain(self) -> int:
        """run_once until nothing is due; total handled."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    def send_batch(self, email_ids: list[int]) -> None:
        emails = list(
            Email.objects.filter(
                pk__in=email_ids, status=Status.IN_PROGRESS, claimed_by=self.worker_id
            )
            .select_related("person", "owner")
            .order_by("due_at", "pk")
        )
        # Checked once per batch: a batch takes seconds, not hours.
        blocked = blocking_reasons(email.person for email in emails)
        # One connection for the batch, opened on the first email that really goes out.
        with Transport() as transport:
            for email in emails:
                self.send_one(email, transport, blocked.get(email.person_id))

    def send_one(self, email: Email, transport: Transport, blocked: str | None = None) -> None:
        refused = self.refusal_before_sending(email) or blocked
        if refused:
            self.fail(email, refused)
            return
        message_id = new_message_id()
        outgoing = self.prepare(email, transport, message_id)
        if outgoing is None:
            return
        try:
            transport.connect()
        except DeliveryError as error:
            self.defer_or_give_up(email, error)
            return
        if self.start_handoff(email, message_id):
            self.hand_over(email, transport, outgoing, message_id)

    def prepare(self, email: Email, transport: Transport, message_id: str) -> Outgoing | None:
        """The message ready to go; None when it cannot be built (the email is then Failed)."""
        try:
            message = build_message(email, verp=transport.is_smtp)
            message.extra_headers["Message-ID"] = message_id
            return transport.prepare(message)
        except MissingMergeField as error:
            self.fail(email, str(error)[:1].upper() + str(error)[1:] + ".")
        except (ValueError, UnicodeError) as error:
            # A bad header or address: retrying cannot help, and the rest of the batch goes on.
            self.fail(email, f"The message cannot be built: {error}")
        return None

    def hand_over(
        self, email: Email, transport: Transport, outgoing: Outgoing, message_id: str
    ) -> None:
        """The SMTP transaction (its handoff is recorded), then its outcome."""
        try:
            receipt = transport.send(outgoing)
        except DeliveryError as error:
            if error.permanent:
                self.fail(email, error.text, updates={"last_error": error.text})
            else:
                self.defer_or_give_up(email, error)
            return
        self.mark_delivered(email, message_id, receipt)

    def refusal_before_sending(self, email: Email) -> str | None:
        """Why this email must not go out now because it is too late, or None."""
        late_by = timezone.now() - (email.due_at or email.created_at)
        if late_by > dt.timedelta(seconds=settings.SEND_LATE_LIMIT_SECONDS):
            return (
                f"missed its send time by {human_duration(late_by)} (the sender was not "
                "running); use Retry Send to send it now"
            )
        return None

    def start_handoff(self, email: Email, message_id: str) -> bool:
        """Record, committed, that the SMTP transaction is about to start; False if not ours.

        The lease is renewed too: the email now needs only as long as one transaction.
        """
        now = timezone.now()
        lease = dt.timedelta(seconds=settings.IN_PROGRESS_LEASE_SECONDS)
        started = Email.objects.filter(
            pk=email.pk, status=Status.IN_PROGRESS, claimed_by=self.worker_id
        ).update(message_id=message_id, handoff_started_at=now, lease_until=now + lease)
        if not started:
            # Our lease ran out and another worker recovered it: it is theirs now.
            log.warning("email %s is no longer claimed by %s; skipped", email.pk, self.worker_id)
        return bool(started)

    def mark_delivered(self, email: Email, message_id: str, receipt: Receipt) -> None:
        data = {"message_id": message_id, "worker": self.worker_id, **receipt.data}
        if self.move(email, Status.DELIVERED, kind="sent", data=data):
            return
        # The server took it, but our lease had run out and recovery already filed it as
        # "delivery unknown": keep the proof of delivery beside that.
        current = Email.objects.filter(pk=email.pk).values_list("status", flat=True).first()
        Event.objects.create(
            email_id=email.pk,
            kind="sent",
            from_status=current or "",
            to_status=current or "",
            detail="The mail server accepted it after the sender's lease had run out.",
            data=data,
            created_at=timezone.now(),
        )

    def defer_or_give_up(self, email: Email, error: DeliveryError) -> None:
        """Transient trouble: back to Scheduled with a backoff, or Failed when time is up."""
        now = timezone.now()
        attempts = email.attempts + 1
        next_try = now + dt.timedelta(
            seconds=backoff_seconds(attempts, settings.SEND_RETRY_BASE_SECONDS)
        )
        window_closes = (email.send_at or email.created_at) + dt.timedelta(
            seconds=settings.SEND_RETRY_WINDOW_SECONDS
        )
        bookkeeping = {"attempts": attempts, "last_error": error.text}
        if attempts >= settings.SEND_MAX_ATTEMPTS or next_try > window_closes:
            reason = f"gave up after {plural(attempts, 'attempt')}: {error.text}"
            self.fail(email, reason, updates=bookkeeping)
            return
        reason = (
            f"Temporary problem: {error.text}; will retry at {next_try:%Y-%m-%d %H:%M:%S} UTC "
            f"(attempt {attempts + 1} of at most {settings.SEND_MAX_ATTEMPTS})."
        )
        self.move(
            email,
            Status.SCHEDULED,
            kind="deferred",
            reason=reason,
            data={"error": error.text, "attempts": attempts, "worker": self.worker_id},
            updates={
                **bookkeeping,
                "due_at": next_try,
                "handoff_started_at": None,
                "claimed_by": "",
                "lease_until": None,
            },
        )

    def fail(self, email: Email, reason: str, *, updates: Mapping[str, Any] | None = None) -> None:
        self.move(email, Status.FAILED, kind="failed", reason=reason, updates=updates)

    def move(
        self,
        email: Email,
        target: str,
        *,
        kind: str,
        reason: str = "",
        data: Mapping[str, Any] | None = None,
        updates: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move an email this worker holds; False when it is no longer ours."""
        values = {"lease_until": None, **(updates or {})}
        if target == Status.FAILED:
            values["claimed_by"] = ""
        with transaction.atomic():
            relaxed_commit()
            moved = transition_many(
                [email.pk],
                target,
                source=Status.IN_PROGRESS,
                kind=kind,
                reason=reason,
                data=data,
                updates=values,
                where=Q(claimed_by=self.worker_id),
            )
        return bool(moved)
