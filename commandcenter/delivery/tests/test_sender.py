"""The sender against a real SMTP server on loopback: the happy path and every fault."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.queue import claim_due
from commandcenter.delivery.sender import Sender, backoff_seconds, human_duration
from commandcenter.delivery.testing import Fault, SmtpSink, free_port
from commandcenter.delivery.tests.helpers import point_at, scheduled_email
from commandcenter.delivery.transport import Receipt
from commandcenter.outbox.actions import retry
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression

pytestmark = pytest.mark.django_db


def send_all() -> int:
    return Sender("test-worker").drain()


def kinds(email: Email) -> list[str]:
    return list(email.events.values_list("kind", flat=True))


def test_it_delivers_through_a_real_smtp_server(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(
        alice,
        subject="Hello {{first_name}}",
        body_text="Hi {{first_name}}, how is {{company}}?",
        body_html="<p>Hi {{first_name}}</p>",
    )
    Person.objects.filter(pk=email.person_id).update(first_name="Carol", company="Acme")

    assert send_all() == 1

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert email.sent_at is not None
    [received] = sink.messages
    assert received.mail_from == f"bounce+{email.token}@bounces.localhost"
    assert received.rcpt_tos == ["carol@example.org"]
    assert email.message_id.startswith("<") and email.message_id.endswith("@bounces.localhost>")
    assert received.message_id == email.message_id
    assert received.header("From") == "alice <alice@example.com>"
    assert received.header("Reply-To") == "alice <alice@example.com>"
    assert received.header("Subject") == "Hello Carol"
    assert b"Hi Carol, how is Acme?" in received.raw
    assert b"<p>Hi Carol</p>" in received.raw
    assert kinds(email) == ["created", "claimed", "sent"]
    sent = email.events.get(kind="sent")
    assert sent.data["smtp_reply"] == "250 2.0.0 Ok: queued as SINK1"
    assert sent.data["smtp_server"] == "127.0.0.1"
    assert sent.data["message_id"] == email.message_id


def test_it_reuses_one_connection_for_a_batch(alice: User, sink: SmtpSink) -> None:
    for number in range(3):
        scheduled_email(alice, to=f"p{number}@example.org")

    assert send_all() == 3

    assert len(sink.messages) == 3
    assert sink.connections == 1
    assert len(set(sink.message_ids())) == 3


def test_a_drain_sends_its_batches_over_one_connection_and_records_them_all(
    alice: User, sink: SmtpSink
) -> None:
    emails = [scheduled_email(alice, to=f"p{number}@example.org") for number in range(7)]

    assert Sender("test-worker", batch_size=3, handoff_group=2).drain() == 7

    assert sink.connections == 1
    assert len(sink.messages) == 7
    for email in emails:
        email.refresh_from_db()
        assert (email.status, email.claimed_by, kinds(email)) == (
            Status.DELIVERED,
            "test-worker",
            ["created", "claimed", "sent"],
        )


def test_one_pass_records_its_whole_batch_before_it_returns(alice: User, sink: SmtpSink) -> None:
    emails = [scheduled_email(alice, to=f"p{number}@example.org") for number in range(5)]
    sender = Sender("test-worker", batch_size=3, handoff_group=2)

    assert sender.run_once() == 3

    delivered = Email.objects.filter(status=Status.DELIVERED)
    assert sorted(delivered.values_list("pk", flat=True)) == [e.pk for e in emails[:3]]
    assert sender.run_once() == 2
    assert sink.connections == 2  # one a pass
    assert not Email.objects.exclude(status=Status.DELIVERED).exists()


TRANSIENT = [
    (Fault("greeting", "421 4.3.2 Service shutting down"), "421 4.3.2 Service shutting down"),
    (Fault("MAIL", "421 4.3.2 Closing"), "421 4.3.2 Closing (at MAIL FROM)"),
    (Fault("MAIL", "451 4.3.0 Try later"), "451 4.3.0 Try later (at MAIL FROM)"),
    (Fault("RCPT", "451 4.7.1 Greylisted"), "451 4.7.1 Greylisted (at RCPT TO)"),
    (Fault("DATA", "451 4.3.0 Not now"), "451 4.3.0 Not now (at DATA)"),
    (Fault("DATA", action="drop"), "closed the connection"),
    (Fault("DATA", action="stall", stall_seconds=5), "did not answer in time"),
    # An explicit 4xx after the whole message: the server says it did not take it.
    (Fault("dot", "451 4.3.0 Queue full"), "451 4.3.0 Queue full (at end of DATA)"),
    (Fault("dot", "421 4.3.2 Shutting down"), "421 4.3.2 Shutting down (at end of DATA)"),
]


@pytest.mark.parametrize(("fault", "error"), TRANSIENT, ids=lambda value: str(value)[:40])
def test_it_defers_on_transient_trouble(
    alice: User, sink: SmtpSink, fault: Fault, error: str
) -> None:
    sink.add_fault(fault)
    email = scheduled_email(alice)

    assert send_all() == 1

    email.refresh_from_db()
    assert email.status == Status.SCHEDULED
    assert error in email.last_error
    assert email.attempts == 1
    assert email.handoff_started_at is None
    assert email.due_at is not None and email.due_at > timezone.now()
    assert "will retry at" in email.reason
    assert kinds(email)[-1] == "deferred"
    assert sink.messages == []


def test_it_defers_when_the_connection_is_refused(alice: User, settings: SettingsWrapper) -> None:
    point_at(settings, free_port())
    email = scheduled_email(alice)

    send_all()

    email.refresh_from_db()
    assert email.status == Status.SCHEDULED
    assert "connection refused" in email.last_error
    assert "will retry at" in email.reason


PERMANENT = [
    (
        Fault("RCPT", "550 5.1.1 <carol@example.org>: no such user"),
        "550 5.1.1 <carol@example.org>: no such user (at RCPT TO)",
    ),
    (Fault("DATA", "554 5.5.1 No valid recipients"), "554 5.5.1 No valid recipients (at DATA)"),
    (Fault("dot", "552 5.3.4 Message too big"), "552 5.3.4 Message too big (at end of DATA)"),
    (Fault("MAIL", "553 5.7.1 Sender rejected"), "553 5.7.1 Sender rejected (at MAIL FROM)"),
]


@pytest.mark.parametrize(("fault", "reason"), PERMANENT, ids=lambda value: str(value)[:40])
def test_it_fails_on_a_permanent_refusal(
    alice: User, sink: SmtpSink, fault: Fault, reason: str
) -> None:
    sink.add_fault(fault)
    email = scheduled_email(alice)

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason == reason
    assert email.failed_at is not None
    assert kinds(email)[-1] == "failed"
    assert sink.messages == []


def test_it_keeps_the_connection_after_one_refused_recipient(alice: User, sink: SmtpSink) -> None:
    sink.add_fault(Fault("RCPT", "550 5.1.1 no such user", addresses={"gone@example.org"}))
    gone = scheduled_email(alice, to="gone@example.org")
    fine = scheduled_email(alice, to="fine@example.org")

    send_all()

    gone.refresh_from_db()
    fine.refresh_from_db()
    assert gone.status == Status.FAILED
    assert fine.status == Status.DELIVERED
    assert [m.rcpt_tos for m in sink.messages] == [["fine@example.org"]]
    assert sink.connections == 1


@pytest.mark.parametrize(
    ("stage", "first_ends"),
    [("DATA", Status.SCHEDULED), ("dot", Status.FAILED)],
    ids=["before-the-message", "after-the-message"],
)
def test_it_reconnects_after_a_dropped_connection(
    alice: User, sink: SmtpSink, stage: str, first_ends: str
) -> None:
    sink.add_fault(Fault(stage, action="drop", times=1))
    first = scheduled_email(alice, to="first@example.org")
    second = scheduled_email(alice, to="second@example.org")

    send_all()

    first.refresh_from_db()
    second.refresh_from_db()
    # Dropped after the whole message: delivery unknown; before it: tried again later.
    assert first.status == first_ends
    assert second.status == Status.DELIVERED
    assert [m.rcpt_tos[0] for m in sink.messages] == ["second@example.org"]
    assert sink.connections == 2


def test_it_waits_for_an_unreachable_server_only_once_per_batch(
    alice: User, sink: SmtpSink
) -> None:
    sink.add_fault(Fault("greeting", action="stall", stall_seconds=5))
    emails = [scheduled_email(alice, to=f"p{n}@example.org") for n in range(3)]

    send_all()

    for email in emails:
        email.refresh_from_db()
        assert email.status == Status.SCHEDULED
        assert "did not answer in time" in email.last_error
    assert sink.connections == 1


def test_it_backs_off_then_gives_up(alice: User, sink: SmtpSink, settings: SettingsWrapper) -> None:
    settings.SEND_MAX_ATTEMPTS = 3
    settings.SEND_RETRY_BASE_SECONDS = 60
    sink.add_fault(Fault("RCPT", "451 4.3.0 Mailbox busy"))
    email = scheduled_email(alice)

    for attempt, (low, high) in enumerate([(30, 60), (60, 120)], start=1):
        before = timezone.now()
        send_all()
        email.refresh_from_db()
        assert email.status == Status.SCHEDULED
        assert email.attempts == attempt
        assert email.due_at is not None
        assert before + dt.timedelta(seconds=low - 1) <= email.due_at
        assert email.due_at <= timezone.now() + dt.timedelta(seconds=high + 1)
        Email.objects.filter(pk=email.pk).update(due_at=timezone.now())

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason == "gave up after 3 attempts: 451 4.3.0 Mailbox busy (at RCPT TO)"
    assert kinds(email)[-3:] == ["deferred", "claimed", "failed"]
    assert kinds(email).count("deferred") == 2


def test_it_gives_up_when_the_retry_window_closes(
    alice: User, sink: SmtpSink, settings: SettingsWrapper
) -> None:
    settings.SEND_RETRY_WINDOW_SECONDS = 120
    settings.SEND_RETRY_BASE_SECONDS = 60
    sink.add_fault(Fault("MAIL", "451 4.3.0 Try later"))
    email = scheduled_email(alice, send_at=timezone.now() - dt.timedelta(seconds=110))

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason == "gave up after 1 attempt: 451 4.3.0 Try later (at MAIL FROM)"


def test_it_spreads_retries_with_growing_jittered_delays() -> None:
    delays = [backoff_seconds(1, 60) for _ in range(50)]
    assert all(30 <= delay <= 60 for delay in delays)
    assert len(set(delays)) > 1
    assert all(240 <= backoff_seconds(4, 60) <= 480 for _ in range(20))
    assert backoff_seconds(30, 60) <= 3600


def test_it_fails_an_email_found_too_late(alice: User, sink: SmtpSink) -> None:
    long_ago = timezone.now() - dt.timedelta(hours=7, minutes=12, seconds=20)
    email = scheduled_email(alice, send_at=long_ago, due_at=long_ago)

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason == (
        "missed its send time by 7 h 12 min (the sender was not running); "
        "use Retry Send to send it now"
    )
    assert sink.messages == []

    retry(email)
    send_all()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert len(sink.messages) == 1


def test_it_says_durations_like_a_person() -> None:
    assert human_duration(dt.timedelta(hours=7, minutes=12, seconds=59)) == "7 h 12 min"
    assert human_duration(dt.timedelta(days=2, hours=3)) == "2 d 3 h"
    assert human_duration(dt.timedelta(seconds=45)) == "45 s"
    assert human_duration(dt.timedelta(minutes=5)) == "5 min"


def test_it_sends_again_an_email_whose_handoff_never_started(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(alice)
    assert claim_due("dead-worker", limit=10, lease_seconds=300) == [email.pk]
    Email.objects.filter(pk=email.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))

    send_all()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert kinds(email) == ["created", "claimed", "recovered", "claimed", "sent"]
    assert len(sink.messages) == 1


def test_it_never_resends_an_email_whose_handoff_started(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(alice)
    claim_due("dead-worker", limit=10, lease_seconds=300)
    Email.objects.filter(pk=email.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1),
        handoff_started_at=timezone.now() - dt.timedelta(minutes=6),
        message_id="<lost@bounces.localhost>",
    )

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason.startswith(
        "delivery unknown: the sender stopped while handing this email to the mail server at "
    )
    assert email.reason.endswith(
        "it may or may not have been delivered. Use Retry Send to send it again."
    )
    assert sink.messages == []


def test_it_leaves_an_email_alone_while_its_lease_lasts(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(alice)
    claim_due("busy-worker", limit=10, lease_seconds=300)

    assert send_all() == 0

    email.refresh_from_db()
    assert email.status == Status.IN_PROGRESS
    assert email.claimed_by == "busy-worker"


def test_it_gives_each_worker_its_own_emails(alice: User) -> None:
    emails = [scheduled_email(alice, to=f"p{n}@example.org") for n in range(3)]

    first = claim_due("one", limit=2, lease_seconds=300)
    second = claim_due("two", limit=2, lease_seconds=300)

    assert first == [emails[0].pk, emails[1].pk]
    assert second == [emails[2].pk]
    assert claim_due("three", limit=2, lease_seconds=300) == []


def block_by_suppression(email: Email) -> None:
    Suppression.objects.create(value="carol@example.org", reason="hard bounce")


def block_by_unsubscribe(email: Email) -> None:
    Person.objects.filter(pk=email.person_id).update(unsubscribed_at=timezone.now())


def block_by_do_not_contact(email: Email) -> None:
    Person.objects.filter(pk=email.person_id).update(do_not_contact=True)


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (block_by_suppression, "suppression list"),
        (block_by_unsubscribe, "unsubscribed"),
        (block_by_do_not_contact, "do-not-contact"),
    ],
)
def test_it_fails_a_recipient_blocked_after_scheduling(
    alice: User, sink: SmtpSink, block: object, reason: str
) -> None:
    email = scheduled_email(alice)
    assert callable(block)
    block(email)

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert reason in email.reason
    assert sink.messages == []


def test_it_fails_a_merge_field_that_can_no_longer_be_filled(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(alice)
    Email.objects.filter(pk=email.pk).update(template_body_text="Your plan: {{plan}}")

    send_all()

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason == "Merge field {{plan}} is empty for carol@example.org."
    assert sink.messages == []


def test_it_stores_the_esp_message_id(alice: User, settings: SettingsWrapper) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    email = scheduled_email(alice)

    send_all()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    [message] = mail.outbox
    assert message.from_email == "alice <alice@example.com>"
    assert message.extra_headers["Message-ID"] == email.message_id
    status = email.events.get(kind="sent").data["anymail_status"]
    assert status == {"message_id": 0, "status": ["sent"]}


def test_it_keeps_proof_of_delivery_that_came_after_recovery(alice: User) -> None:
    email = scheduled_email(alice)
    sender = Sender("slow-worker")
    claim_due("slow-worker", limit=10, lease_seconds=300)
    assert sender.start_handoffs({email.pk: "<slow@bounces.localhost>"}) == {email.pk}
    Email.objects.filter(pk=email.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    Sender("other-worker").run_once()

    sender.mark_delivered_many(
        [(email, "<slow@bounces.localhost>", Receipt({"smtp_reply": "250 ok"}))]
    )

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.reason.startswith("delivery unknown")
    late = email.events.get(kind="sent")
    assert late.data["smtp_reply"] == "250 ok"
    assert "after the sender's lease had run out" in late.detail


def test_it_renews_the_lease_when_the_handoff_starts(
    alice: User, settings: SettingsWrapper
) -> None:
    settings.IN_PROGRESS_LEASE_SECONDS = 300
    email = scheduled_email(alice)
    claim_due("worker", limit=10, lease_seconds=300)
    Email.objects.filter(pk=email.pk).update(lease_until=timezone.now() + dt.timedelta(seconds=5))

    assert Sender("worker").start_handoffs({email.pk: "<renewed@bounces.localhost>"})
    assert not Sender("intruder").start_handoffs({email.pk: "<intruder@bounces.localhost>"})

    email.refresh_from_db()
    assert email.lease_until is not None
    assert email.lease_until > timezone.now() + dt.timedelta(seconds=250)
    assert email.message_id == "<renewed@bounces.localhost>"
    assert email.handoff_started_at is not None


def test_it_fails_a_message_that_cannot_be_built_and_goes_on(alice: User, sink: SmtpSink) -> None:
    broken = scheduled_email(alice, to="broken@example.org")
    # A line break in an address would inject a header: Django refuses to build it.
    Email.objects.filter(pk=broken.pk).update(to_address="x@example.org\nBcc: y@example.org")
    fine = scheduled_email(alice, to="fine@example.org")

    send_all()

    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == Status.FAILED
    assert broken.reason.startswith("The message cannot be built: ")
    assert broken.handoff_started_at is None
    assert fine.status == Status.DELIVERED
    assert [m.rcpt_tos for m in sink.messages] == [["fine@example.org"]]


def test_it_stamps_only_the_emails_it_still_holds(alice: User) -> None:
    kept, lost = scheduled_email(alice, to="kept@example.org"), scheduled_email(alice)
    claim_due("worker", limit=10, lease_seconds=300)
    Email.objects.filter(pk=lost.pk).update(claimed_by="other-worker", message_id="<theirs@x>")

    started = Sender("worker").start_handoffs({kept.pk: "<kept@x>", lost.pk: "<lost@x>"})

    assert started == {kept.pk}
    kept.refresh_from_db()
    lost.refresh_from_db()
    assert (kept.message_id, lost.message_id) == ("<kept@x>", "<theirs@x>")
    assert kept.handoff_started_at is not None
    assert lost.handoff_started_at is None


def test_it_records_each_outcome_of_a_group_against_its_own_email(
    alice: User, sink: SmtpSink
) -> None:
    sink.add_fault(Fault("RCPT", "550 5.1.1 no such user", addresses={"gone@example.org"}))
    sink.add_fault(Fault("RCPT", "451 4.7.1 Greylisted", addresses={"later@example.org"}))
    addresses = ["a@example.org", "gone@example.org", "b@example.org", "later@example.org"]
    emails = [scheduled_email(alice, to=address) for address in addresses]

    Sender("test-worker", handoff_group=4).drain()

    for email in emails:
        email.refresh_from_db()
    delivered, gone, also_delivered, later = emails
    assert (gone.status, gone.reason) == (
        Status.FAILED,
        "550 5.1.1 no such user (at RCPT TO)",
    )
    assert later.status == Status.SCHEDULED
    assert "451 4.7.1 Greylisted" in later.last_error
    received = {m.rcpt_tos[0]: m.message_id for m in sink.messages}
    assert received == {
        "a@example.org": delivered.message_id,
        "b@example.org": also_delivered.message_id,
    }
    for email in (delivered, also_delivered):
        assert email.status == Status.DELIVERED
        assert email.events.get(kind="sent").data["message_id"] == email.message_id
