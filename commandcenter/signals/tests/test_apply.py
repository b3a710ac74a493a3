"""apply_inbound(): matching inbound mail to emails and what each kind of signal does."""

from __future__ import annotations

from typing import Any

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression
from commandcenter.signals.apply import apply_inbound
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.tests.factories import arf, delivered_email, dsn, mail, reply, verp


def events(email: Email, kind: str) -> list[Event]:
    return list(email.events.filter(kind=kind))


def test_it_bounces_an_email_named_by_its_verp_address_and_suppresses_a_dead_one(
    alice: User,
) -> None:
    email = delivered_email(alice)
    result = apply_inbound(dsn(email), source="stdin", envelope_recipient=verp(email))
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert email.reason.startswith("userunknown: 550 5.1.1")
    assert email.reason.endswith("(hard bounce)")
    assert result.email_ids == [email.pk] and result.kind == "bounce"
    suppression = Suppression.objects.get(value="prospect@example.org")
    assert suppression.source == "bounce"
    [bounced] = events(email, "bounced")
    assert bounced.data["dsn_status"] == "5.1.1" and bounced.data["hard_bounce"] is True
    assert "Final-Recipient" in bounced.payload


def test_it_changes_nothing_when_the_same_message_comes_twice(alice: User) -> None:
    email = delivered_email(alice)
    first = apply_inbound(dsn(email), source="smtp")
    again = apply_inbound(dsn(email), source="imap:1")
    assert (first.duplicate, first.recorded) == (False, 1)
    assert (again.duplicate, again.recorded) == (True, 0)
    assert InboundMessage.objects.count() == 1
    assert len(events(email, "bounced")) == 1
    assert Suppression.objects.count() == 1


def test_it_dedupes_by_message_id_when_the_bytes_differ(alice: User) -> None:
    email = delivered_email(alice)
    apply_inbound(dsn(email), source="smtp")
    # The same report again, with one more Received line from a second path.
    apply_inbound(b"Received: from relay.example\r\n" + dsn(email), source="imap:1")
    assert InboundMessage.objects.count() == 2
    assert len(events(email, "bounced")) == 1


def test_it_matches_by_the_original_message_id_inside_a_report(alice: User) -> None:
    email = delivered_email(alice)
    result = apply_inbound(dsn(email, with_verp=False), source="imap:1")
    assert result.email_ids == [email.pk]
    email.refresh_from_db()
    assert email.status == Status.BOUNCED


def test_it_matches_a_verp_token_a_mail_system_lower_cased(alice: User) -> None:
    email = delivered_email(alice)
    Email.objects.filter(pk=email.pk).update(token="MixedCaseToken_1234")
    email.refresh_from_db()
    raw = dsn(email, with_verp=False)
    result = apply_inbound(raw, source="smtp", envelope_recipient=verp(email).lower())
    assert result.email_ids == [email.pk]


def test_it_records_a_temporary_failure_as_an_event_only(alice: User) -> None:
    email = delivered_email(alice)
    raw = dsn(email, status="4.2.2", action="delayed", diagnostic="452 4.2.2 Mailbox full")
    apply_inbound(raw, source="smtp")
    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    [deferred] = events(email, "deferred_bounce")
    assert deferred.detail == "still trying: 452 4.2.2 Mailbox full"
    assert deferred.data["reason"] == "mailboxfull"
    assert not Suppression.objects.exists()


def test_it_bounces_without_suppressing_when_the_address_is_not_dead(alice: User) -> None:
    email = delivered_email(alice)
    raw = dsn(email, status="5.7.1", diagnostic="554 5.7.1 Message rejected as spam")
    apply_inbound(raw, source="smtp")
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert email.reason.startswith("spamdetected: ") and "hard bounce" not in email.reason
    assert not Suppression.objects.exists()


def test_it_moves_a_complained_email_to_spam_and_unsubscribes_the_person(alice: User) -> None:
    email = delivered_email(alice)
    apply_inbound(arf(email), source="smtp")
    email.refresh_from_db()
    assert email.status == Status.SPAM
    assert email.person.unsubscribed_at is not None
    [complained] = events(email, "complained")
    assert complained.data["feedback_type"] == "abuse"


def test_it_records_an_auto_reply_with_its_return_date_and_no_reply(alice: User) -> None:
    email = delivered_email(alice)
    raw = reply(
        email,
        subject="Out of Office: Pricing",
        body="I am out of the office until 2031-03-10.",
        extra="Auto-Submitted: auto-replied",
    )
    result = apply_inbound(raw, source="imap:1")
    email.refresh_from_db()
    assert result.kind == "auto_reply"
    assert (email.status, email.replies) == (Status.DELIVERED, 0)
    [auto] = events(email, "auto_replied")
    assert auto.data["return_date"] == "2031-03-10"
    assert not events(email, "replied")


def test_it_counts_a_human_reply(alice: User) -> None:
    email = delivered_email(alice)
    apply_inbound(reply(email, body="Thursday works for me."), source="imap:1")
    apply_inbound(reply(email, body="Thursday works for me."), source="imap:1")
    email.refresh_from_db()
    assert email.replies == 1
    assert len(events(email, "replied")) == 1


def test_it_keeps_an_unmatched_message_with_no_email(alice: User) -> None:
    delivered_email(alice)
    raw = mail("From: someone@example.net\nSubject: hello\nMessage-ID: <x@y>", "Hi there")
    result = apply_inbound(raw, source="stdin")
    inbound = InboundMessage.objects.get(pk=result.inbound_id)
    assert (result.matched, inbound.email, inbound.kind) == (False, None, "human")
    assert bytes(inbound.raw) == raw
    assert inbound.classification["kind"] == "human"


def test_it_stores_junk_bytes_without_touching_any_email(alice: User) -> None:
    email = delivered_email(alice)
    result = apply_inbound(b"\x00\xff" * 1000 + b"bounce+" + email.token.encode(), source="stdin")
    assert InboundMessage.objects.filter(pk=result.inbound_id).exists()
    email.refresh_from_db()
    assert email.status == Status.DELIVERED and email.replies == 0


def test_it_never_moves_bobs_email_for_a_report_about_alices(alice: User, bob: User) -> None:
    mine = delivered_email(alice)
    theirs = delivered_email(bob, to="other@example.org")
    apply_inbound(dsn(mine), source="smtp")
    theirs.refresh_from_db()
    assert theirs.status == Status.DELIVERED


def test_it_unsubscribes_on_mail_to_the_list_unsubscribe_address(
    alice: User, bob: User, settings: Any
) -> None:
    email = delivered_email(alice, to="pat@prospect.example")
    Person.objects.create(owner=bob, email="pat@prospect.example")
    raw = b"From: pat@prospect.example\r\nSubject: unsubscribe\r\n\r\nplease\r\n"

    result = apply_inbound(
        raw,
        source="test",
        envelope_recipient=f"unsubscribe+{email.token}@{settings.BOUNCE_DOMAIN}",
    )

    assert result.kind == "unsubscribe" and result.email_ids == [email.pk]
    # Every rep's person with that address: the recipient asked the organisation to stop.
    assert not Person.objects.filter(email="pat@prospect.example", unsubscribed_at=None).exists()
    assert events(email, "unsubscribed")
