"""The end of DATA is the point of no return: a message the server has read never goes out again
by itself. Each test counts what the real SMTP server on loopback received, not only folders."""

from __future__ import annotations

import pytest
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import STAGES, Fault, SmtpSink
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.actions import retry
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status

pytestmark = pytest.mark.django_db


def run_worker_passes(times: int = 5) -> None:
    """What a worker left running for a day would do: pass after pass, nothing held back by
    backoff (every scheduled email is made due again before each pass)."""
    for _ in range(times):
        Email.objects.filter(status=Status.SCHEDULED).update(due_at=timezone.now())
        Sender("test-worker").drain()


AFTER_THE_DOT = [
    (Fault("dot", action="drop"), "closed the connection"),
    (Fault("dot", action="reset"), "closed the connection"),
    (Fault("dot", action="stall", stall_seconds=5), "did not answer in time"),
]


@pytest.mark.parametrize(("fault", "what"), AFTER_THE_DOT, ids=["drop", "reset", "late-reply"])
def test_it_never_sends_again_a_message_the_server_has_read(
    alice: User, sink: SmtpSink, fault: Fault, what: str
) -> None:
    sink.add_fault(fault)
    email = scheduled_email(alice)

    run_worker_passes()

    email.refresh_from_db()
    assert len(sink.received) == 1, "the server read the message exactly once"
    assert email.status == Status.FAILED
    assert email.reason.startswith("delivery unknown: the mail server at 127.0.0.1:")
    assert f"read the whole message, then {what}" in email.reason
    assert "Use Retry Send" in email.reason
    kinds = list(email.events.values_list("kind", flat=True))
    assert kinds == ["created", "claimed", "failed"]


def test_a_server_that_always_answers_late_gets_one_copy(alice: User, sink: SmtpSink) -> None:
    # The bug this guards: each timeout deferred the email, and a late server got 16 to 18
    # copies of it, each with a new Message-ID.
    sink.add_fault(Fault("dot", action="stall", stall_seconds=3))
    emails = [scheduled_email(alice, to=f"p{n}@example.org") for n in range(3)]

    run_worker_passes(times=8)

    assert sorted(m.rcpt_tos[0] for m in sink.received) == [
        "p0@example.org",
        "p1@example.org",
        "p2@example.org",
    ]
    for email in emails:
        email.refresh_from_db()
        assert email.status == Status.FAILED
        assert email.reason.startswith("delivery unknown")


@pytest.mark.parametrize("stage", [stage for stage in STAGES if stage != "dot"])
def test_a_reset_before_the_end_of_data_defers_and_sends_once_later(
    alice: User, sink: SmtpSink, stage: str
) -> None:
    sink.add_fault(Fault(stage, action="reset", times=1))
    email = scheduled_email(alice)

    Sender("test-worker").drain()

    email.refresh_from_db()
    assert sink.received == []
    assert email.status == Status.SCHEDULED
    assert email.attempts == 1
    assert "will retry at" in email.reason

    run_worker_passes()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert len(sink.received) == 1
    assert sink.received[0].message_id == email.message_id


def test_a_reset_after_the_end_of_data_is_delivery_unknown(alice: User, sink: SmtpSink) -> None:
    sink.add_fault(Fault("dot", action="reset", times=1))
    email = scheduled_email(alice)

    run_worker_passes()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert len(sink.received) == 1


def test_an_explicit_421_after_the_message_defers_with_the_same_message_id(
    alice: User, sink: SmtpSink
) -> None:
    sink.add_fault(Fault("dot", "421 4.3.2 Service shutting down", times=1))
    email = scheduled_email(alice)

    Sender("test-worker").drain()

    email.refresh_from_db()
    assert email.status == Status.SCHEDULED
    assert "421 4.3.2 Service shutting down (at end of DATA)" in email.reason
    first_id = email.message_id

    run_worker_passes()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert [m.message_id for m in sink.received] == [first_id, first_id]
    assert [m.message_id for m in sink.messages] == [first_id]


def test_a_reply_split_across_packets_is_read_whole(alice: User, sink: SmtpSink) -> None:
    sink.add_fault(Fault("dot", action="split"))
    email = scheduled_email(alice)

    Sender("test-worker").drain()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    reply = email.events.get(kind="sent").data["smtp_reply"]
    assert reply == "250 Ok, I have your message\n2.0.0 queued as SINK1"
    assert len(sink.received) == 1


def test_retry_send_keeps_the_message_id(alice: User, sink: SmtpSink) -> None:
    sink.add_fault(Fault("dot", action="drop", times=1))
    email = scheduled_email(alice)
    Sender("test-worker").drain()
    email.refresh_from_db()
    assert email.status == Status.FAILED
    message_id = email.message_id

    retry(email)
    Sender("test-worker").drain()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert email.message_id == message_id
    assert [m.message_id for m in sink.received] == [message_id, message_id]
