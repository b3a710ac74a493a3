"""A signal that overtakes the sender's bookkeeping still takes effect.

As with a fast MTA on the same host: the mail server, having read the message and before it
answers "250", hands a bounce (or a complaint, or a reply) to our real inbound SMTP listener,
which applies it while the email is still In Progress. The sender hears "250" afterwards."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import Received, SmtpSink
from commandcenter.delivery.tests.helpers import point_at, scheduled_email
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression
from commandcenter.signals.tests.factories import arf, dsn, mail

pytestmark = pytest.mark.django_db(transaction=True)


def dsn_for(message: Received) -> bytes:
    return dsn(sent_email(message))


def arf_for(message: Received) -> bytes:
    return arf(sent_email(message))


def sent_email(message: Received) -> Email:
    """The email a message the server read was made from (by its VERP token)."""
    return Email.objects.get(token=message.mail_from.partition("+")[2].partition("@")[0])


def reply_for(message: Received) -> bytes:
    return mail(
        f"""
From: {message.rcpt_tos[0]}
To: rep@example.com
Subject: Re: Hello
Message-ID: <fast-reply@example.org>
In-Reply-To: {message.message_id}
""",
        "Sounds good, call me.",
    )


def send_with_signal_first(
    settings: SettingsWrapper, inbound_smtp_port: int, signal: Callable[[Received], bytes]
) -> SmtpSink:
    """Send what is due through a server that delivers `signal(message)` to our inbound
    listener before it answers 250."""

    def deliver_signal_first(message: Received) -> None:
        with smtplib.SMTP("127.0.0.1", inbound_smtp_port) as client:
            client.sendmail("", [message.mail_from], signal(message))

    with SmtpSink(on_message=deliver_signal_first) as sink:
        point_at(settings, sink.port, timeout=30)
        Sender("test-worker").drain()
    return sink


def test_a_bounce_seen_before_sent_ends_bounced(
    alice: User, settings: SettingsWrapper, inbound_smtp_port: int
) -> None:
    email = scheduled_email(alice)

    sink = send_with_signal_first(settings, inbound_smtp_port, dsn_for)

    email.refresh_from_db()
    assert len(sink.messages) == 1
    assert email.status == Status.BOUNCED
    assert email.reason.startswith("userunknown: ")
    assert email.sent_at is not None and email.failed_at is not None
    assert Suppression.objects.filter(value="carol@example.org").exists()
    kinds = list(email.events.values_list("kind", "from_status", "to_status"))
    assert ("bounced", "in_progress", "bounced") in kinds
    late = email.events.get(kind="sent")
    assert (late.from_status, late.to_status) == ("bounced", "bounced")
    assert "bounce about it had already arrived" in late.detail
    assert late.data["smtp_reply"].startswith("250 ")


def test_a_complaint_seen_before_sent_ends_spam(
    alice: User, settings: SettingsWrapper, inbound_smtp_port: int
) -> None:
    email = scheduled_email(alice)

    send_with_signal_first(settings, inbound_smtp_port, arf_for)

    email.refresh_from_db()
    assert email.status == Status.SPAM
    assert Person.objects.get(pk=email.person_id).unsubscribed_at is not None
    assert "spam complaint about it had already arrived" in email.events.get(kind="sent").detail


def test_a_reply_seen_before_sent_is_counted(
    alice: User, settings: SettingsWrapper, inbound_smtp_port: int
) -> None:
    email = scheduled_email(alice)

    send_with_signal_first(settings, inbound_smtp_port, reply_for)

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert email.replies == 1
    assert [e.kind for e in email.events.order_by("created_at", "id")] == [
        "created",
        "claimed",
        "replied",
        "sent",
    ]


def test_the_rest_of_a_batch_is_not_held_up(
    alice: User, settings: SettingsWrapper, inbound_smtp_port: int
) -> None:
    bounced = scheduled_email(alice, to="gone@example.org")
    fine = scheduled_email(alice, to="fine@example.org")

    def deliver_signal_first(message: Received) -> None:
        if message.rcpt_tos == ["gone@example.org"]:
            with smtplib.SMTP("127.0.0.1", inbound_smtp_port) as client:
                client.sendmail("", [message.mail_from], dsn_for(message))

    with SmtpSink(on_message=deliver_signal_first) as sink:
        point_at(settings, sink.port, timeout=30)
        Sender("test-worker").drain()

    assert len(sink.messages) == 2
    assert Email.objects.get(pk=bounced.pk).status == Status.BOUNCED
    assert Email.objects.get(pk=fine.pk).status == Status.DELIVERED
