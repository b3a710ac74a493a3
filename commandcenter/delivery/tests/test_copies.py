""" "Show original": the sender keeps the exact bytes it handed over, with the handoff."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from commandcenter.accounts.models import User
from commandcenter.delivery.models import SentMessage
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import Fault, SmtpSink
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person

pytestmark = pytest.mark.django_db


def test_it_keeps_byte_for_byte_what_the_server_received(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(
        alice,
        subject="Hi {{first_name}}",
        body_html="<p>Hi {{first_name}} <a href='https://x.io/'>x</a></p>",
    )

    Sender("w").drain()

    [received] = sink.messages
    kept = SentMessage.objects.get(email=email)
    assert kept.via == SentMessage.Via.SMTP
    assert kept.raw.rstrip(b"\r\n") == received.raw.rstrip(b"\r\n")
    assert b"Subject: Hi Carol" in kept.raw


def test_it_stores_what_went_out_when_the_person_changed_after_scheduling(
    alice: User, sink: SmtpSink
) -> None:
    email = scheduled_email(alice, subject="Hi {{first_name}}")
    assert email.subject == "Hi Carol"
    Person.objects.filter(pk=email.person_id).update(first_name="Caroline")

    Sender("w").drain()

    email.refresh_from_db()
    assert (email.status, email.subject, email.template_subject) == (
        Status.DELIVERED,
        "Hi Caroline",
        "Hi {{first_name}}",
    )
    assert sink.messages[0].header("Subject") == "Hi Caroline"


def test_a_later_attempt_replaces_the_copy(alice: User, sink: SmtpSink) -> None:
    sink.add_fault(Fault("RCPT", "451 4.3.0 try later", times=1))
    email = scheduled_email(alice, body_html="<p>Hi {{first_name}}</p>")
    Sender("w").run_once()
    first = SentMessage.objects.get(email=email)
    assert sink.messages == []  # refused before the data: nothing was received yet
    Email.objects.filter(pk=email.pk).update(due_at=email.created_at)

    Sender("w").drain()

    [kept] = SentMessage.objects.filter(email=email)
    assert kept.handed_over_at > first.handed_over_at
    assert kept.raw != first.raw  # a new MIME boundary: the bytes of the second handoff
    assert kept.raw.rstrip(b"\r\n") == sink.messages[0].raw.rstrip(b"\r\n")


def test_only_who_may_see_the_email_gets_its_original(
    alice: User, bob: User, sink: SmtpSink
) -> None:
    email = scheduled_email(alice)
    Sender("w").drain()
    url = reverse("web:email_original", args=[email.pk])
    mine, theirs = Client(), Client()
    mine.force_login(alice)
    theirs.force_login(bob)

    shown = mine.get(url)
    assert shown.status_code == 200
    assert shown["Content-Type"] == "text/plain; charset=utf-8"
    assert shown.content == SentMessage.objects.get(email=email).raw
    assert mine.get(url + "?download=1")["Content-Type"] == "message/rfc822"
    assert theirs.get(url).status_code == 404
