"""The sender: claims due emails, hands each to the mail server at most once, records the outcome.

Crash safety rests on the handoff stamp: before an email's SMTP transaction starts, the
worker stores its Message-ID and `handoff_started_at` (conditional on still holding the
claim) and commits that durably. After a crash, an email In Progress without the stamp was
provably never handed over and goes back to Scheduled; one with it may have been delivered,
so it goes to Failed with "delivery unknown" and only a person can send it again. No email
is ever re-sent automatically once its handoff started.

Speed comes from three things. Stamps are committed for a group of emails at a time
(SEND_HANDOFF_GROUP, default 10), in the same transaction that records the outcomes of the
group before; one durable commit then serves a whole group instead of two per email. A
courier holds the SMTP conversation while this thread records and prepares the next group:
for SMTP a forked child process, so that the server's replies never wait for this
interpreter's GIL (a thread for other backends); every database write stays on this thread.
In drain() (the worker's loop) the batches share that courier and its connection, so the
server is kept busy across the claim of the next batch.
And a group is prepared in bulk: one query for its tracked links, plain SQL for the claim,
the stamps and the Delivered moves (records.py). The price: after a crash, up to two groups
(the one on the wire and the one committed after it) are "delivery unknown" instead of
"provably never started". SEND_HANDOFF_GROUP=1 brings that down to two emails, at about
1.5x the CPU per email.

For each claimed email, in this order: too late -> Failed; blocked recipient or a merge
field that cannot be filled -> Failed; then the handoff. The server's answer decides the
rest, for each email on its own: accepted -> Delivered; 5xx -> Failed with the server's
words; 4xx, or a refused, dropped or stalled connection before the end of DATA -> back to
Scheduled with a backoff, until the retry window closes; a connection that drops, or a reply
that never comes, after the server read the whole message -> Failed, "delivery unknown"
(transport.py: the point of no return). When the server cannot be reached, the rest of the
batch is deferred at once instead of each email waiting for its own timeout. An email keeps
its Message-ID from its first handoff on, through retries and Retry Send, so that a copy a
recipient gets twice is recognisable as one message.

A signal can overtake this bookkeeping: a bounce or a complaint about an email can arrive
(and move it to Bounced or Spam) while the email is still In Progress here. The server's
answer is then kept on the email's timeline and its date recorded, but the signal's
verdict stands.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import secrets
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from commandcenter.campaigns import progress as campaign_progress
from commandcenter.delivery.copies import keep_as_sent, keep_sent_messages
from commandcenter.delivery.courier import AnyCourier, Handover, Outcome, courier_for
from commandcenter.delivery.message import build_messages, new_message_id
from commandcenter.delivery.queue import claim_due, recover_stale, unknown_after_handoff
from commandcenter.delivery.records import move_many
from commandcenter.delivery.transport import DeliveryError, Receipt, Transport
from commandcenter.outbox.merge import MissingMergeField
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, record_event, transition_many
from commandcenter.people.services import blocking_reasons

log = logging.getLogger(__name__)

# A group's handoff stamps, written only where this worker still holds the claim: one
# statement (one parse and one round trip on PostgreSQL) that gives each email its own
# Message-ID. Plain SQL: the ORM's CASE expressions cost about 25 times the CPU.
# {cases}: "WHEN %s THEN %s" (id, Message-ID) per email; {ids}: one %s per email.
STAMP_SQL = (
    'UPDATE "outbox_email" SET "message_id" = CASE "id" {cases} END, '
    '"handoff_started_at" = %s, "lease_until" = %s '
    'WHERE "id" IN ({ids}) AND "status" = %s AND "claimed_by" = %s RETURNING "id"'
)

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

    Used for the outcomes of a batch's last group, which no handoff stamp rides along with.
    Losing a recent outcome in a *database* crash leaves the email In Progress, and recovery
    then treats it conservatively (handoff started -> "delivery unknown"): never a duplicate.
    Handoff stamps are always committed durably before their SMTP transactions start.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")


class Wire:
    """The connection to the mail server and the courier that talks over it."""

    def __init__(self) -> None:
        with contextlib.ExitStack() as stack:
            self.transport = stack.enter_context(Transport())
            self.courier = courier_for(self.transport)
            stack.push(self.courier.__exit__)
            # Both opened: close() closes them from now on.
            self._stack = stack.pop_all()

    def close(self, exc_info: Any = (None, None, None)) -> None:
        """Stop the courier and close the connection; with an exception's exc_info, the
        courier stops handing over at once (see Courier.__exit__)."""
        self._stack.__exit__(*exc_info)


class Sender:
    """One worker's sender. `run_once` is one pass; `drain` passes until nothing is due
    (the worker command's loop)."""

    def __init__(
        self,
        worker_id: str | None = None,
        *,
        batch_size: int | None = None,
        handoff_group: int | None = None,
    ) -> None:
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.batch_size = batch_size or settings.SEND_BATCH_SIZE
        self.handoff_group = handoff_group or settings.SEND_HANDOFF_GROUP
        # The connection and courier of the batch being sent; in drain(), kept for the next.
        self._wire: Wire | None = None
        self._sharing = False

    def run_once(self) -> int:
        """Recover stale leases, claim one batch of due emails, send them; number handled.
        Every outcome of the batch is recorded when it returns (outside drain())."""
        recovered = recover_stale()
        claimed = claim_due(
            self.worker_id,
            limit=self.batch_size,
            lease_seconds=settings.IN_PROGRESS_LEASE_SECONDS,
        )
        if claimed:
            self.send_batch(claimed)
        return recovered + len(claimed)

    def drain(self, stop: Callable[[], bool] | None = None) -> int:
        """run_once until nothing is due (or `stop()` says so between batches); total
        handled. Every outcome is recorded when it returns.

        The batches share one connection and courier: the next batch is claimed and its
        first group prepared while the courier still sends the last group of the one
        before, whose outcomes are recorded with the first handoffs of the next. The mail
        server then never waits for a batch to be claimed, nor a batch for a connection.
        """
        total = 0
        self._sharing = True
        try:
            while not (stop and stop()) and (handled := self.run_once()):
                total += handled
        except BaseException:
            self._close_wire(failed=True)
            raise
        finally:
            self._sharing = False
        self._close_wire()
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
        # One connection for the batch (or, in drain(), for the batches one after another),
        # opened when the first email really goes out; the courier (a child process for
        # SMTP) talks to the server while this thread prepares and records.
        if self._wire is None:
            self._wire = Wire()
        wire = self._wire
        try:
            for start in range(0, len(emails), self.handoff_group):
                group = emails[start : start + self.handoff_group]
                self.send_group(group, blocked, wire.transport, wire.courier)
        except BaseException:
            self._close_wire(failed=True)
            raise
        if not self._sharing or wire.transport.unreachable is not None:
            # The next batch (if any) tries the server again on a connection of its own.
            self._close_wire()

    def _close_wire(self, *, failed: bool = False) -> None:
        """Close the connection and courier; unless they failed, record the outcomes still
        out (the outcomes of a failed one can no longer be known: see Courier)."""
        wire, self._wire = self._wire, None
        if wire is None:
            return
        if failed:
            wire.close(sys.exc_info())
            return
        try:
            finished = wire.courier.collect(leave=0)
        except BaseException:
            wire.close(sys.exc_info())
            raise
        wire.close()
        if finished:
            with transaction.atomic():
                relaxed_commit()
                self.record(finished)

    def send_group(
        self,
        group: list[Email],
        blocked: Mapping[int, str],
        transport: Transport,
        courier: AnyCourier,
    ) -> None:
        """Record what came back, then commit the next group's handoffs in one transaction.

        The courier is still sending the previous group meanwhile; waiting for the one before
        it keeps at most two groups handed over but unrecorded at any moment.
        """
        refusals = {
            email.pk: reason
            for email in group
            if (reason := self.refusal_before_sending(email) or blocked.get(email.person_id))
        }
        going = [email for email in group if email.pk not in refusals]
        finished = courier.collect(leave=self.handoff_group)
        unreachable = courier.reach() if going else None
        with transaction.atomic():
            # Durable (no relaxed_commit): this commit holds the handoff stamps.
            self.record(finished)
            for email in group:
                if email.pk in refusals:
                    self.fail(email, refusals[email.pk])
            if unreachable is not None:
                for email in going:
                    self.defer_or_give_up(email, unreachable)
                return
            ready = self.prepare(going, transport)
            started = self.start_handoffs({h.email.pk: h.message_id for h in ready})
            keep_sent_messages(h for h in ready if h.email.pk in started)  # "Show original"
        courier.send(handover for handover in ready if handover.email.pk in started)

    def prepare(self, emails: list[Email], transport: Transport) -> list[Handover]:
        """The messages ready to go. One that cannot be built fails its email instead.

        Run inside the transaction of the group's handoff stamps: the tracked links recorded
        for the messages become durable together with them.
        """
        ready = []
        for email, built in zip(
            emails, build_messages(emails, verp=transport.is_smtp), strict=True
        ):
            if isinstance(built, MissingMergeField):
                self.fail(email, str(built)[:1].upper() + str(built)[1:] + ".")
                continue
            # Kept from an earlier handoff (a retry): the same message, the same Message-ID.
            message_id = email.message_id or new_message_id()
            try:
                if isinstance(built, ValueError):
                    raise built
                built.extra_headers["Message-ID"] = message_id
                ready.append(Handover(email, message_id, transport.prepare(built)))
            except ValueError as error:  # UnicodeError is one too
                # A bad header or address: retrying cannot help, and the rest of the batch
                # goes on.
                self.fail(email, f"The message cannot be built: {error}")
        return ready

    def record(self, outcomes: list[Outcome]) -> None:
        """The server's answers: accepted ones in bulk, refusals and trouble one by one."""
        keep_as_sent(outcomes)
        self.mark_delivered_many(
            [(o.handover.email, o.handover.message_id, o.receipt) for o in outcomes if o.receipt]
        )
        for outcome in outcomes:
            error, email = outcome.error, outcome.handover.email
            if error is None:
                continue
            if error.unknown:
                reason = unknown_after_handoff(error.text)
                self.fail(email, reason, updates={"last_error": error.text})
            elif error.permanent:
                self.fail(email, error.text, updates={"last_error": error.text})
            else:
                self.defer_or_give_up(email, error)

    def refusal_before_sending(self, email: Email) -> str | None:
        """Why this email must not go out now because it is too late, or None."""
        late_by = timezone.now() - (email.due_at or email.created_at)
        if late_by > dt.timedelta(seconds=settings.SEND_LATE_LIMIT_SECONDS):
            return (
                f"missed its send time by {human_duration(late_by)} (the sender was not "
                "running); use Retry Send to send it now"
            )
        return None

    def start_handoffs(self, message_ids: Mapping[int, str]) -> set[int]:
        """Record that these emails' SMTP transactions are about to start (with the
        Message-ID each will carry); the ids still ours, which alone may go out.

        Run inside the transaction that commits them. The lease is renewed too: the emails
        now need only as long as their group's transactions.
        """
        if not message_ids:
            return set()
        now = timezone.now()
        lease_until = now + dt.timedelta(seconds=settings.IN_PROGRESS_LEASE_SECONDS)
        adapt = connection.ops.adapt_datetimefield_value
        statement = STAMP_SQL.format(
            cases=" ".join(["WHEN %s THEN %s"] * len(message_ids)),
            ids=", ".join(["%s"] * len(message_ids)),
        )
        params: list[Any] = [value for pair in message_ids.items() for value in pair]
        params += [adapt(now), adapt(lease_until), *message_ids]
        params += [Status.IN_PROGRESS, self.worker_id]
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            # Locked by this UPDATE until the commit: no one else can take them meanwhile.
            ours = {row[0] for row in cursor.fetchall()}
        for pk in set(message_ids) - ours:
            # Its lease ran out and another worker recovered it: it is theirs now.
            log.warning("email %s is no longer claimed by %s; skipped", pk, self.worker_id)
        return ours

    def mark_delivered_many(self, accepted: list[tuple[Email, str, Receipt]]) -> None:
        """Delivered, each with its Message-ID and the server's reply in its "sent" Event."""
        if not accepted:
            return
        data = {
            email.pk: {"message_id": message_id, **receipt.data}
            for email, message_id, receipt in accepted
        }
        with transaction.atomic(savepoint=False):
            moved = move_many(
                data,
                Status.DELIVERED,
                source=Status.IN_PROGRESS,
                claimed_by=self.worker_id,
                kind="sent",
                data={"worker": self.worker_id},
                updates={"lease_until": None},
            )
            # Campaign emails: their step is done, the engine moves their people on.
            moved_ids = set(moved)
            campaign_progress.steps_done(
                (email.enrolment_id, email.step_id)
                for email, _, _ in accepted
                if email.pk in moved_ids
            )
            late = [pk for pk in data if pk not in moved]
            if late:
                self.keep_late_proof(late, data)

    def keep_late_proof(self, late: list[int], data: Mapping[int, Mapping[str, Any]]) -> None:
        """The server took them, but they had moved on meanwhile: a bounce or a complaint
        overtook our bookkeeping (Bounced, Spam), or our lease ran out and recovery filed
        them as "delivery unknown" (Failed). Their status stands; the proof of delivery and
        its date are kept beside it."""
        statuses = dict(Email.objects.filter(pk__in=late).values_list("pk", "status"))
        now = timezone.now()
        Email.objects.filter(pk__in=late, sent_at__isnull=True).update(sent_at=now)
        for pk in late:  # rare: only when something overtook the sender
            status = statuses.get(pk, "")
            if status in (Status.BOUNCED, Status.SPAM):
                detail = (
                    "The mail server accepted it; the "
                    f"{'bounce' if status == Status.BOUNCED else 'spam complaint'} about it "
                    "had already arrived."
                )
            else:
                detail = "The mail server accepted it after the sender's lease had run out."
            record_event(
                pk,
                "sent",
                detail=detail,
                data={"worker": self.worker_id, **data[pk]},
                status=status,
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
        with transaction.atomic(savepoint=False):
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
            if not moved:
                # It moved on meanwhile (a bounce overtook us, or our lease ran out): what
                # the server said is still part of its story.
                record_event(
                    email.pk,
                    kind,
                    detail=reason,
                    data={**(data or {}), "worker": self.worker_id, "not_applied": True},
                )
        return bool(moved)
