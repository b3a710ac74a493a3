"""Unsubscribing: the RFC 8058 one-click POST, the page with its CSRF check, the sender."""

from __future__ import annotations

import datetime as dt
import email as email_parser
import re
from email.message import Message

from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.delivery.tests.helpers import point_at
from commandcenter.outbox.compose import compose_single
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.tracking.hits import drain
from commandcenter.tracking.unsubscribe import token_from_mailto, unsubscribe

ONE_CLICK = "List-Unsubscribe=One-Click"


def unsubscribed(email: Email) -> bool:
    return Person.objects.get(pk=email.person_id).unsubscribed_at is not None


def test_it_unsubscribes_on_the_one_click_post_of_rfc_8058(email: Email) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"/t/u/{email.token}", ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert unsubscribed(email)
    (event,) = Event.objects.filter(email=email, kind="unsubscribed")
    assert event.data["via"] == "one_click"
    assert "RFC 8058" in event.detail


def test_it_accepts_the_one_click_post_as_multipart_form_data(email: Email) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/t/u/{email.token}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert unsubscribed(email)


def test_it_refuses_any_other_post_without_a_csrf_token(email: Email) -> None:
    client = Client(enforce_csrf_checks=True)
    for body in ({}, {"List-Unsubscribe": "yes"}, {"unsubscribe": "1"}):
        assert client.post(f"/t/u/{email.token}", body).status_code == 403
    assert not unsubscribed(email)


def test_it_shows_a_confirm_page_and_unsubscribes_only_on_its_post(email: Email) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/t/u/{email.token}")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    assert b"pat@example.org" in page.content
    assert not unsubscribed(email)  # a scanner fetching the page unsubscribes no one
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert csrf is not None
    done = client.post(f"/t/u/{email.token}", {"csrfmiddlewaretoken": csrf.group(1).decode()})
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    assert unsubscribed(email)
    assert Event.objects.get(email=email, kind="unsubscribed").data["via"] == "page"


def test_it_escapes_the_address_on_the_page(alice: User) -> None:
    email = compose_single(alice, to='"<b>x</b>"@example.org', subject="Hi", body_text="Hi")
    page = Client().get(f"/t/u/{email.token}")
    assert b"<b>x</b>" not in page.content
    assert b"&lt;b&gt;x&lt;/b&gt;" in page.content


def test_it_records_one_event_however_often_the_recipient_unsubscribes(email: Email) -> None:
    for _ in range(3):
        Client().post(f"/t/u/{email.token}", {"List-Unsubscribe": "One-Click"})
    assert Event.objects.filter(email=email, kind="unsubscribed").count() == 1


def test_it_unsubscribes_the_address_for_every_rep(email: Email, bob: User) -> None:
    bobs = compose_single(bob, to="PAT@example.org", subject="Hi", body_text="Hi")
    Client().post(f"/t/u/{email.token}", {"List-Unsubscribe": "One-Click"})
    assert unsubscribed(bobs)


def test_it_unsubscribes_from_an_archived_email_too(email: Email) -> None:
    from commandcenter.outbox.actions import archive

    archive(email)
    Client().post(f"/t/u/{email.token}", {"List-Unsubscribe": "One-Click"})
    assert unsubscribed(email)


def test_it_reads_the_token_of_the_mailto_address(email: Email) -> None:
    assert token_from_mailto(f"<unsubscribe+{email.token}@Bounces.Example.Net>") == email.token
    assert token_from_mailto(f"unsubscribe+{email.token}@elsewhere.example") is None
    assert token_from_mailto(f"bounce+{email.token}@bounces.example.net") is None
    assert token_from_mailto("unsubscribe+short@bounces.example.net") is None


def test_it_fails_a_scheduled_email_to_an_unsubscribed_person_when_it_comes_due(
    settings: SettingsWrapper, email: Email
) -> None:
    later = compose_single(email.owner, to="pat@example.org", subject="Follow-up", body_text="Hi")
    assert later.status == Status.SCHEDULED
    Client().post(f"/t/u/{email.token}", {"List-Unsubscribe": "One-Click"})
    with SmtpSink() as sink:
        point_at(settings, sink.port)
        Sender().run_once()
    later.refresh_from_db()
    assert later.status == Status.FAILED
    assert later.reason.startswith("Recipient unsubscribed on ")
    assert sink.messages == []


def test_it_sends_tracked_links_a_pixel_and_the_unsubscribe_headers(
    settings: SettingsWrapper, alice: User, client: Client
) -> None:
    email = compose_single(
        alice,
        to="pat@example.org",
        subject="Pricing",
        body_text="See https://example.com/pricing.",
        body_html='<p>See <a href="https://example.com/pricing">pricing</a>.</p>',
    )
    with SmtpSink() as sink:
        point_at(settings, sink.port)
        Sender().run_once()
    (received,) = sink.messages
    message = email_parser.message_from_bytes(received.raw)
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    assert f"<https://cc.example.net/t/u/{email.token}>" in message["List-Unsubscribe"]
    html, text = parts(message)
    assert "example.com/pricing" not in html + text
    assert f"https://cc.example.net/t/o/{email.token}.gif" in html
    paths = re.findall(r"https://cc\.example\.net(/t/c/[\w-]+)", html + text)
    assert len(paths) == 2  # the HTML link and the text one
    Email.objects.filter(pk=email.pk).update(sent_at=timezone.now() - dt.timedelta(hours=1))
    assert client.get(paths[0])["Location"] == "https://example.com/pricing"
    drain()
    assert Email.objects.get(pk=email.pk).clicks == 1


def parts(message: Message) -> tuple[str, str]:
    found = {"text/html": "", "text/plain": ""}
    for part in message.walk():
        if part.get_content_type() in found:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found["text/html"], found["text/plain"]


def test_it_unsubscribes_through_the_domain_function(email: Email) -> None:
    assert unsubscribe(email, via="mailto") is True
    assert unsubscribe(email, via="mailto") is False


def test_it_unsubscribes_whatever_bytes_the_request_carries(email: Email) -> None:
    response = Client(HTTP_USER_AGENT="mail\x00app").post(
        f"/t/u/{email.token}?x=%00", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert "mail\ufffdapp" in Event.objects.get(email=email, kind="unsubscribed").payload
