"""A bounce or a complaint changes only the email it is about; replies are never our own mail.

Two teams: alice and bob in "north", dave in "south". Alice and dave both mailed
pat@prospect.example; bob mailed quinn@prospect.example.
"""

from __future__ import annotations

import pytest

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.outbox.actions import retry
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, transition
from commandcenter.people.models import Person, Suppression
from commandcenter.signals.apply import apply_inbound
from commandcenter.signals.tests.factories import arf, delivered_email, dsn, mail, reply, verp

pytestmark = pytest.mark.django_db

PAT = "pat@prospect.example"
QUINN = "quinn@prospect.example"


@pytest.fixture
def north_alice() -> User:
    return create_user("alice", email="alice@north.example", password="x", team_name="north")


@pytest.fixture
def north_bob() -> User:
    return create_user("bob", email="bob@north.example", password="x", team_name="north")


@pytest.fixture
def south_dave() -> User:
    return create_user("dave", email="dave@south.example", password="x", team_name="south")


def status(email: Email) -> str:
    email.refresh_from_db()
    return email.status


def kinds(email: Email) -> list[str]:
    return list(email.events.values_list("kind", flat=True))


def test_a_bounce_by_verp_moves_only_its_email_though_another_team_mailed_the_address(
    north_alice: User, south_dave: User
) -> None:
    alices = delivered_email(north_alice, to=PAT)
    daves = delivered_email(south_dave, to=PAT)

    result = apply_inbound(dsn(alices), source="smtp", envelope_recipient=verp(alices))

    assert result.email_ids == [alices.pk]
    assert status(alices) == Status.BOUNCED
    assert status(daves) == Status.DELIVERED
    assert "bounced" not in kinds(daves)


def test_a_report_is_matched_by_its_quoted_original_not_by_its_references(
    north_alice: User, north_bob: User
) -> None:
    alices = delivered_email(north_alice, to=PAT)
    bobs = delivered_email(north_bob, to=PAT)
    # A report whose own In-Reply-To/References name bob's email, quoting alice's.
    raw = dsn(alices, with_verp=False).replace(
        b"Message-ID: <report-1@mx.example.org>",
        f"Message-ID: <report-1@mx.example.org>\r\nIn-Reply-To: {bobs.message_id}\r\n"
        f"References: {bobs.message_id}".encode(),
    )

    result = apply_inbound(raw, source="imap:1")

    assert result.email_ids == [alices.pk]
    assert status(alices) == Status.BOUNCED
    assert status(bobs) == Status.DELIVERED


def test_a_verdict_about_another_address_is_not_applied(north_alice: User, north_bob: User) -> None:
    alices = delivered_email(north_alice, to=PAT)
    bobs = delivered_email(north_bob, to=QUINN)
    # A report that quotes alice's email but says quinn's address (bob's prospect) is dead.
    raw = dsn(alices, with_verp=False).replace(
        f"Final-Recipient: rfc822; {PAT}".encode(), f"Final-Recipient: rfc822; {QUINN}".encode()
    )

    apply_inbound(raw, source="smtp")

    assert status(alices) == Status.DELIVERED
    assert status(bobs) == Status.DELIVERED
    assert not Suppression.objects.exists()
    [kept] = alices.events.filter(kind="report_not_applied")
    assert QUINN in kept.detail and "not applied" in kept.detail
    assert not bobs.events.filter(kind="report_not_applied").exists()


def test_a_complaint_about_another_address_changes_nothing(
    north_alice: User, south_dave: User
) -> None:
    alices = delivered_email(north_alice, to=PAT)
    daves = delivered_email(south_dave, to=QUINN)
    raw = arf(alices).replace(
        f"Original-Rcpt-To: <{PAT}>".encode(), f"Original-Rcpt-To: <{QUINN}>".encode()
    )
    raw = raw.replace(f"To: {PAT}".encode(), f"To: {QUINN}".encode())

    apply_inbound(raw, source="smtp")

    assert status(alices) == Status.DELIVERED
    assert status(daves) == Status.DELIVERED
    assert not Person.objects.filter(unsubscribed_at__isnull=False).exists()


def test_a_complaint_whose_recipient_was_redacted_applies_to_the_email_it_quotes(
    north_alice: User,
) -> None:
    email = delivered_email(north_alice, to=PAT)
    raw = arf(email).replace(f"<{PAT}>".encode(), b"<redacted@prospect.example>")
    raw = raw.replace(f"To: {PAT}".encode(), b"To: xxxxxxxx@prospect.example")

    apply_inbound(raw, source="smtp")

    assert status(email) == Status.SPAM


def test_a_report_relayed_again_without_message_id_records_nothing_new(
    north_alice: User,
) -> None:
    email = delivered_email(north_alice, to=PAT)
    first = dsn(email)
    apply_inbound(first, source="smtp", envelope_recipient=verp(email))
    before = kinds(email)
    # The same report after another hop: new outer headers, its Message-ID gone.
    headers, _, body = first.partition(b"\r\n\r\n")
    relayed_headers = b"\r\n".join(
        line for line in headers.split(b"\r\n") if not line.startswith(b"Message-ID")
    )
    relayed = (
        b"Received: from relay.example by mx2.example; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
        b"X-Forwarded-For: ops@example.net\r\n" + relayed_headers + b"\r\n\r\n" + body
    )

    result = apply_inbound(relayed, source="imap:2")

    assert result.recorded == 0
    assert kinds(email) == before
    assert Suppression.objects.count() == 1


def test_the_next_bounce_of_a_retried_email_is_a_new_report(north_alice: User) -> None:
    email = delivered_email(north_alice, to=QUINN)
    raw = dsn(email, status="5.7.1", diagnostic="554 5.7.1 Rejected as spam")
    apply_inbound(raw, source="smtp")
    assert status(email) == Status.BOUNCED
    retry(email)
    assert transition(email.pk, Status.IN_PROGRESS, kind="claimed")
    assert transition(email.pk, Status.DELIVERED, kind="sent")

    apply_inbound(b"Received: from again.example\r\n" + raw, source="smtp")

    assert status(email) == Status.BOUNCED
    assert kinds(email).count("bounced") == 2


def test_a_reply_counts_on_the_email_it_answers_only(north_alice: User, north_bob: User) -> None:
    first = delivered_email(north_alice, to=PAT)
    follow_up = delivered_email(north_alice, to=PAT)
    raw = reply(follow_up, body="Yes, let's talk.").replace(
        f"References: {follow_up.message_id}".encode(),
        f"References: {first.message_id} {follow_up.message_id}".encode(),
    )

    apply_inbound(raw, source="imap:1")

    first.refresh_from_db()
    follow_up.refresh_from_db()
    assert (first.replies, follow_up.replies) == (0, 1)


def test_mail_from_one_of_our_users_is_never_a_reply(north_alice: User, north_bob: User) -> None:
    email = delivered_email(north_alice, to=PAT)
    # Bob answers in the thread from his own mailbox: not the prospect replying.
    raw = reply(email, body="Looping in Bob.").replace(
        f"From: {PAT}".encode(), b"From: Bob <BOB@north.example>"
    )

    result = apply_inbound(raw, source="imap:1")

    email.refresh_from_db()
    assert result.email_ids == []
    assert email.replies == 0
    assert "replied" not in kinds(email)


def test_our_own_sent_copy_found_in_a_mailbox_is_not_a_reply(north_alice: User) -> None:
    email = delivered_email(north_alice, to=PAT)
    sent_copy = mail(
        f"""
From: alice <someone-else@north.example>
To: {PAT}
Subject: Pricing
Message-ID: {email.message_id}
In-Reply-To: {email.message_id}
""",
        "Hello",
    )

    apply_inbound(sent_copy, source="imap:1")

    email.refresh_from_db()
    assert email.replies == 0
    assert kinds(email) == ["created", "claimed", "sent"]


def test_the_final_failure_after_a_delay_warning_is_a_new_report(north_alice: User) -> None:
    email = delivered_email(north_alice, to=PAT)
    words = "451 4.7.1 <{to}>: Service unavailable, try again later"
    delayed = dsn(email, status="4.7.1", action="delayed", diagnostic=words)
    expired = dsn(email, status="4.7.1", action="failed", diagnostic=words)

    apply_inbound(delayed, source="smtp")
    assert status(email) == Status.DELIVERED
    apply_inbound(b"Received: from mx.example.org\r\n" + expired, source="smtp")

    assert status(email) == Status.BOUNCED
    assert kinds(email)[-2:] == ["deferred_bounce", "bounced"]
