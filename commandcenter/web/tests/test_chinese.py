"""A rep who reads Simplified Chinese finds no English sentence left on any kind of page.

What may stay in another language is marked `translate="no"` by the templates (names,
addresses, subjects and bodies the rep wrote, a mail server's own words, raw details), and
is left out; everything else — labels, reasons, timeline entries, domain errors, flash
messages — must be Chinese. "English" here is two Latin words in a row.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox.compose import Content, Recipient, compose_bulk, compose_single
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status, transition
from commandcenter.people.models import Person, Suppression
from commandcenter.signals.record import record_signal

ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,'\u2019]+[A-Za-z]{2,})+")
# Kept as they are in every language: product and protocol names.
NAMES = {"UTC", "iPhone", "Gmail", "Outlook", "Mac", "HTML", "CSV", "ID", "Message-ID"}
# Elements whose text is not the page's own words.
SKIPPED = {
    "script",
    "style",
    "pre",
    "code",
    "q",
    "iframe",
    "textarea",
    "datalist",
    "option",
    "title",
}  # (a page title is the email's subject or a label: checked in the page)


class VisibleText(HTMLParser):
    """The text a person reads, less what is marked not to be translated."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "img", "input", "meta", "link", "hr", "source", "wbr"}:
            return
        keep = dict(attrs).get("translate") != "no" and tag not in SKIPPED
        if "event-details" in (dict(attrs).get("class") or ""):
            keep = False  # the raw facts behind a timeline entry
        self.stack.append((tag, keep))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if all(keep for _, keep in self.stack):
            self.parts.append(data)

    def attributes_too(self, html: str) -> list[str]:
        """Words in attributes people read: placeholders, titles, labels for screen readers."""
        return re.findall(r'(?:placeholder|title|aria-label)="([^"]*)"', html)


def english_left(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    body = html.split("<body", 1)[-1]
    texts = [*parser.parts, *parser.attributes_too(body)]
    found = []
    for text in texts:
        for match in ENGLISH.finditer(text):
            words = match.group(0)
            if not set(re.findall(r"[A-Za-z-]+", words)) <= NAMES:
                found.append(words)
    return found


@pytest.fixture
def li(db: None) -> User:
    user = create_user("li", email="li@example.com", password="li-pass", admin=True)
    user.language, user.time_zone = "zh-hans", "Asia/Shanghai"
    user.first_name, user.signature = "李", "李明\n销售"
    user.save()
    return user


@pytest.fixture
def client(li: User) -> Client:
    client = Client()
    client.force_login(li)
    return client


def assert_chinese(response: object) -> None:
    content = response.content.decode()  # type: ignore[attr-defined]
    assert response.status_code == 200, content[:500]  # type: ignore[attr-defined]
    assert english_left(content) == []


@pytest.fixture
def outbox(li: User) -> dict[str, Email]:
    """One email of each kind of life, with the events that tell it."""
    pat = Person.objects.create(owner=li, email="pat@x.example", first_name="Pat")
    Person.objects.create(
        owner=li,
        email="bo@y.example",
        first_name="Bo",
        do_not_contact=True,
        do_not_contact_reason="asked us to stop",
        do_not_contact_at=timezone.now(),
    )
    Suppression.objects.create(value="dead@z.example", reason="userunknown: 550 5.1.1 no user")
    emails: dict[str, Email] = {}
    delivered = compose_single(li, to=pat.email, subject="Hi {{first_name}}", body_text="Hello")
    transition(delivered.pk, Status.IN_PROGRESS, kind="claimed", data={"worker": "w1"})
    transition(
        delivered.pk,
        Status.DELIVERED,
        kind="sent",
        data={"smtp_reply": "250 2.0.0 Ok: queued as ABC"},
    )
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    hits: list[tuple[str, dict[str, object]]] = [
        ("opened", {"machine": False, "user_agent": iphone, "reason": "a person's iOS"}),
        (
            "opened",
            {
                "machine": True,
                "user_agent": "Mozilla/5.0",
                "reason": "Apple Mail Privacy Protection prefetch",
            },
        ),
        (
            "clicked",
            {
                "machine": True,
                "reason": "clicked 1.0 s after delivery: a link scanner",
                "url": "https://x.example/",
            },
        ),
        ("clicked", {"machine": False, "user_agent": iphone, "url": "https://x.example/"}),
        ("replied", {}),
        ("auto_replied", {"return_date": "2026-12-24"}),
        ("unsubscribed", {}),
    ]
    for kind, data in hits:
        record_signal(delivered, kind, detail=str(data.get("reason", "")), data=data)
    emails["delivered"] = delivered
    bounced = compose_single(li, to="dead2@z.example", subject="Hello", body_text="x")
    transition(bounced.pk, Status.IN_PROGRESS, kind="claimed")
    transition(bounced.pk, Status.DELIVERED, kind="sent")
    transition(
        bounced.pk,
        Status.BOUNCED,
        kind="bounced",
        reason="userunknown: 550 5.1.1 no such user (hard bounce)",
    )
    emails["bounced"] = bounced
    Suppression.objects.create(value="dead2@z.example", reason="userunknown: 550 no such user")
    failed = compose_single(li, to="q@x.example", subject="Again", body_text="x")
    transition(failed.pk, Status.IN_PROGRESS, kind="claimed")
    transition(
        failed.pk,
        Status.SCHEDULED,
        kind="deferred",
        reason="Temporary problem: 421 4.7.0 Try later (at DATA); will retry at "
        "2026-12-01 10:00:00 UTC (attempt 2 of at most 8).",
    )
    transition(failed.pk, Status.IN_PROGRESS, kind="claimed")
    transition(
        failed.pk,
        Status.FAILED,
        kind="failed",
        reason="gave up after 8 attempts: 421 4.7.0 Try later (at DATA)",
    )
    emails["failed"] = failed
    emails["blocked"] = compose_single(li, to="bo@y.example", subject="Hi", body_text="x")
    emails["draft"] = compose_single(li, to="new@x.example", subject="{{first_name}}", draft=True)
    emails["scheduled"] = compose_single(
        li,
        to=pat.email,
        subject="Later",
        body_text="x",
        send_at=timezone.now() + dt.timedelta(days=2),
        send_zone="Europe/Paris",
    )
    _, group = compose_bulk(
        li,
        mode="group",
        recipients=[Recipient("a@x.example"), Recipient("dead@z.example")],
        content=Content("News", "x"),
    )
    emails["group"] = group[0]
    spam = compose_single(li, to="s@x.example", subject="Promo", body_text="x")
    transition(spam.pk, Status.IN_PROGRESS, kind="claimed")
    transition(spam.pk, Status.DELIVERED, kind="sent")
    transition(
        spam.pk, Status.SPAM, kind="complained", reason="The recipient marked it as spam (abuse)."
    )
    emails["spam"] = spam
    assert Event.objects.count() > 20
    return emails


def test_every_folder_is_chinese(client: Client, outbox: dict[str, Email]) -> None:
    for folder in Status.values:
        if folder != Status.DELETED:
            assert_chinese(client.get(reverse("web:folder", args=[folder])))


def test_every_kind_of_email_page_is_chinese(client: Client, outbox: dict[str, Email]) -> None:
    for email in outbox.values():
        email.refresh_from_db()
        assert_chinese(client.get(reverse("web:email", args=[email.pk])))
        if email.status in {Status.DRAFT, Status.SCHEDULED, Status.FAILED}:
            assert_chinese(client.get(reverse("web:edit", args=[email.pk])))
    assert_chinese(client.get(reverse("web:batch", args=[outbox["group"].batch_id])))


def test_forms_and_their_domain_errors_are_chinese(client: Client, li: User) -> None:
    assert_chinese(client.get(reverse("web:compose")))
    # A merge field that would be empty (ComposeError), with the fill-in inputs.
    response = client.post(
        reverse("web:compose"),
        {
            "to": "new@x.example",
            "subject": "Hi {{first_name}}",
            "body_text": "{{industry}}",
            "time_zone": "UTC",
            "intent": "send",
            "text_follows": "False",
        },
    )
    assert "first_name" in response.content.decode()
    assert_chinese(response)
    response = client.post(
        reverse("web:compose_bulk"),
        {
            "mode": "select_and_send",
            "to": "a@x.example\nb@x.example",
            "subject": "{{first_name}}",
            "body_text": "x",
            "time_zone": "UTC",
            "intent": "send",
        },
    )
    assert_chinese(response)
    response = client.post(
        reverse("web:compose"), {"to": "bad", "subject": "", "intent": "send", "time_zone": "UTC"}
    )
    assert_chinese(response)
    Template.objects.create(owner=li, name="Intro", subject="Hi", body_text="x")
    for name in (
        "people",
        "person_new",
        "preferences",
        "templates",
        "template_new",
        "people_import",
        "password",
    ):
        assert_chinese(client.get(reverse(f"web:{name}")))
    assert_chinese(client.get(reverse("web:compose_bulk") + "?mode=group"))


def test_people_with_badges_and_the_suppression_page_are_chinese(
    client: Client, outbox: dict[str, Email]
) -> None:
    assert_chinese(client.get(reverse("web:people")))
    suppression = Suppression.objects.get(value="dead@z.example")
    assert_chinese(client.get(reverse("web:suppression_lift", args=[suppression.pk])))


def test_flash_messages_from_the_domain_are_chinese(
    client: Client, outbox: dict[str, Email]
) -> None:
    for email, action in [
        (outbox["spam"], "retry"),
        (outbox["bounced"], "retry"),
        (outbox["delivered"], "unarchive"),
        (outbox["failed"], "retry"),
    ]:
        response = client.post(
            reverse("web:actions"), {"one": f"{email.pk}:{action}", "next": "/"}, follow=True
        )
        assert 'class="flash' in response.content.decode()
        assert_chinese(response)
    response = client.post(
        reverse("web:compose"),
        {
            "to": "pat@x.example",
            "subject": "Hi",
            "body_text": "x",
            "time_zone": "UTC",
            "intent": "send",
        },
        follow=True,
    )
    assert "正在发送给" in response.content.decode()
    assert_chinese(response)


def test_the_sign_in_page_is_chinese(db: None) -> None:
    response = Client(headers={"accept-language": "zh-hans"}).get(reverse("web:login"))
    assert_chinese(response)


def test_the_checker_finds_english(db: None) -> None:
    assert english_left("<body><p>Retry Send would fail</p></body>") == ["Retry Send would fail"]
    assert english_left('<body><p translate="no">Quick question</p><q>550 no user</q></body>') == []
