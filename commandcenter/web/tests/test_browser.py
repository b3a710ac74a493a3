"""The web UI in Debian's Chromium, headless, against a live server (`pytest -m browser`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.web.tests.conftest import screenshot
from commandcenter.web.tests.helpers import email_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Counts refresh by polling every 3 s: a change must show within a few polls.
POLL_WAIT_MS = 10_000


@pytest.fixture
def alice() -> User:
    return create_user("alice", email="alice@example.com", password="alice-pass")


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(5_000)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page.locator("header .user-menu summary")).to_have_text(username)


def write(page: Page, text: str) -> None:
    """Type the message into the rich-text editor, as a rep would."""
    editor = page.locator("trix-editor")
    editor.click()
    page.keyboard.type(text)


def sub_tab_count(page: Page, folder: str) -> Locator:
    return page.locator(f'[data-count="{folder}"]')


def test_it_signs_in_and_out(page: Page, alice: User) -> None:
    page.goto("/folders/delivered/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    screenshot(page, "sign-in")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/folders/delivered/$"))
    expect(page.locator(".banner")).to_contain_text("nothing leaves this machine")
    page.click("header .user-menu summary")
    page.click("text=Sign out")
    expect(page).to_have_url(re.compile(r"/login/"))


def test_it_composes_and_schedules_a_single_email(page: Page, alice: User) -> None:
    sign_in(page, "alice", "alice-pass")
    page.click("header >> text=Compose")
    page.fill("#id_to", "pat@prospect.example")
    page.fill("#id_subject", "Meeting next week")
    write(page, "Hi {{first_name | there}}, can we talk on Tuesday?")
    page.fill("#id_date", "2099-03-04")
    page.fill("#id_time", "09:30")
    page.select_option("#id_time_zone", "Asia/Shanghai")
    screenshot(page, "compose")
    page.click("button[value=schedule]")
    expect(page).to_have_url(re.compile(r"/folders/scheduled/$"))
    expect(page.locator("table.emails tbody")).to_contain_text("Meeting next week")
    expect(sub_tab_count(page, "scheduled")).to_have_text("1")
    email = Email.objects.get()
    assert email.send_at is not None
    assert email.send_at.isoformat() == "2099-03-04T01:30:00+00:00"
    screenshot(page, "command-center-scheduled")


def test_it_saves_and_edits_a_draft(page: Page, alice: User) -> None:
    sign_in(page, "alice", "alice-pass")
    page.goto("/compose/")
    page.fill("#id_to", "pat@prospect.example")
    page.fill("#id_subject", "First thoughts")
    page.click("button[value=draft]")
    expect(page).to_have_url(re.compile(r"/folders/draft/$"))
    row = page.locator("table.emails tbody tr", has_text="First thoughts")
    row.locator("text=Edit").click()
    page.fill("#id_subject", "Second thoughts")
    write(page, "Now with a body.")
    # The plain-text part follows the editor by itself.
    page.click("details.plain summary")
    expect(page.locator("#id_body_text")).to_have_value("Now with a body.")
    page.click("button[value=draft]")
    expect(page.locator("table.emails tbody")).to_contain_text("Second thoughts")
    email = Email.objects.get()
    assert (email.status, email.subject, email.body_text) == (
        Status.DRAFT,
        "Second thoughts",
        "Now with a body.",
    )
    assert email.body_html == "<div>Now with a body.</div>"


def test_it_sends_select_and_send_to_three_people_with_one_copy_edited(
    page: Page, alice: User
) -> None:
    for first, address in [
        ("Ann", "ann@a.example"),
        ("Ben", "ben@b.example"),
        ("Cy", "cy@c.example"),
    ]:
        Person.objects.create(owner=alice, email=address, first_name=first, company="Acme")
    sign_in(page, "alice", "alice-pass")
    page.goto("/people/")
    page.check("input[data-select-all]")
    page.click("button[value=select_and_send]")
    expect(page.locator("#id_to")).to_have_value(re.compile("ann@a.example"))
    page.fill("#id_subject", "Hello {{first_name}}")
    write(page, "A note for {{company}}.")
    page.click("button[value=preview]")
    copies = page.locator("li.copy")
    expect(copies).to_have_count(3)
    expect(copies.nth(1).locator(".preview-subject")).to_have_text("Hello Ben")
    copies.nth(1).locator(".edit-copy summary").click()
    copies.nth(1).locator("input[name$=-subject]").fill("Ben, a special offer")
    screenshot(page, "select-and-send-preview")
    page.click("button[value=send]")
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    expect(page.locator("table.members-table tbody tr")).to_have_count(3)
    page.goto("/folders/scheduled/")
    expect(sub_tab_count(page, "scheduled")).to_have_text("3")
    subjects = dict(Email.objects.values_list("to_address", "subject"))
    assert subjects == {
        "ann@a.example": "Hello Ann",
        "ben@b.example": "Ben, a special offer",
        "cy@c.example": "Hello Cy",
    }


def test_it_sends_a_group_email_and_a_worker_pass_delivers_it(
    page: Page, alice: User, settings: SettingsWrapper
) -> None:
    sign_in(page, "alice", "alice-pass")
    page.goto("/compose/bulk/?mode=group")
    page.fill("#id_to", "g1@group.example\ng2@group.example\ng3@group.example")
    page.fill("#id_subject", "Our product update")
    write(page, "Hello {{first_name | there}}")
    page.click("button[value=send]")
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    page.goto("/folders/scheduled/")
    group_row = page.locator("tr.group")
    expect(group_row).to_have_count(1)
    expect(group_row).to_contain_text("3 recipients")
    group_row.locator("summary").click()
    expect(group_row.locator(".batch-members li")).to_have_count(3)
    screenshot(page, "command-center-group")
    expect(page.locator('[data-tab="sent"] .count')).to_have_text("0")
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "commandcenter.delivery.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        assert Sender().drain() == 3
        assert len(sink.messages) == 3
    # No reload: the polled tab bar shows the new counts.
    expect(sub_tab_count(page, "scheduled")).to_have_text("0", timeout=POLL_WAIT_MS)
    expect(page.locator('[data-tab="sent"] .count')).to_have_text("3", timeout=POLL_WAIT_MS)
    page.click('[data-tab="sent"]')
    expect(sub_tab_count(page, "delivered")).to_have_text("3")
    expect(page.locator("tr.group")).to_contain_text("3 recipients")
    screenshot(page, "command-center")


def test_it_archives_and_unarchives(page: Page, alice: User) -> None:
    email_in(Status.DELIVERED, alice, subject="Thanks for the call")
    sign_in(page, "alice", "alice-pass")
    page.goto("/folders/delivered/")
    page.locator("tr", has_text="Thanks for the call").locator("button", has_text="Archive").click()
    expect(page.locator(".flash")).to_contain_text("Archived 1 email.")
    expect(sub_tab_count(page, "delivered")).to_have_text("0")
    expect(sub_tab_count(page, "archived")).to_have_text("1")
    page.click('[data-folder="archived"]')
    page.locator("tr", has_text="Thanks for the call").locator(
        "button", has_text="Unarchive"
    ).click()
    expect(sub_tab_count(page, "delivered")).to_have_text("1")
    assert Email.objects.get().status == Status.DELIVERED


def test_it_retries_a_failed_email(page: Page, alice: User) -> None:
    email_in(Status.FAILED, alice, subject="Pricing", reason="550 5.1.1 Mailbox unavailable")
    sign_in(page, "alice", "alice-pass")
    page.goto("/folders/failed/")
    row = page.locator("tr", has_text="Pricing")
    expect(row).to_contain_text("550 5.1.1 Mailbox unavailable")
    row.locator("button", has_text="Retry Send").click()
    expect(page.locator(".flash")).to_contain_text("1 email will be sent again.")
    expect(sub_tab_count(page, "failed")).to_have_text("0")
    assert Email.objects.get().status == Status.SCHEDULED


def test_it_deletes_a_selection_after_confirmation(page: Page, alice: User) -> None:
    email_in(Status.FAILED, alice, subject="One", reason="550 no")
    email_in(Status.FAILED, alice, to="lee@prospect.example", subject="Two", reason="550 no")
    sign_in(page, "alice", "alice-pass")
    page.goto("/folders/failed/")
    page.check("input[data-select-all]")
    page.click("button[data-bulk][value=delete]")
    expect(page.locator("h1")).to_have_text("Delete 2 emails?")
    screenshot(page, "confirm-delete")
    page.click("text=Cancel")
    expect(sub_tab_count(page, "failed")).to_have_text("2")
    page.check("input[data-select-all]")
    page.click("button[data-bulk][value=delete]")
    page.click("text=Yes, delete")
    expect(page.locator(".flash")).to_contain_text("Deleted 2 emails.")
    expect(sub_tab_count(page, "failed")).to_have_text("0")
    assert Email.objects.filter(status=Status.DELETED).count() == 2


def test_it_shows_an_emails_timeline_and_keeps_its_html_sandboxed(page: Page, alice: User) -> None:
    email = email_in(
        Status.DELIVERED,
        alice,
        subject="Proposal",
        body_html="<h2>Proposal</h2><p>Hi Pat</p><script>window.parent.pwned = 1</script>",
    )
    email.events.create(
        kind="opened",
        data={"user_agent": "<script>alert('ua')</script>", "machine": False},
        created_at=email.created_at,
    )
    sign_in(page, "alice", "alice-pass")
    page.goto(f"/emails/{email.pk}/")
    expect(page.locator("ol.events")).to_contain_text("<script>alert('ua')</script>")
    frame = page.frame_locator("iframe.email-html")
    expect(frame.locator("h2")).to_have_text("Proposal")
    assert page.evaluate("() => window.pwned === undefined")
    screenshot(page, "email-timeline")


def test_it_keeps_a_second_user_out_of_the_first_users_email(page: Page, alice: User) -> None:
    email = email_in(Status.DELIVERED, alice, subject="Alice only")
    create_user("bob", email="bob@example.com", password="bob-pass")
    sign_in(page, "bob", "bob-pass")
    response = page.goto(f"/emails/{email.pk}/")
    assert response is not None and response.status == 404
    page.goto("/folders/delivered/")
    expect(page.locator("table.emails")).not_to_contain_text("Alice only")


def test_it_shows_the_page_in_chinese(
    browser: Browser, live_server: LiveServer, alice: User
) -> None:
    email_in(Status.DELIVERED, alice, subject="你好")
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    sign_in(page, "alice", "alice-pass")
    expect(page.locator('[data-folder="delivered"]')).to_contain_text("已送达")
    expect(page.locator(".banner")).to_contain_text("不会有任何邮件离开本机")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    screenshot(page, "command-center-zh-hans")
    context.close()


def busy_outbox(owner: User) -> Email:
    """A rep's outbox with a bit of everything; returns a delivered email with a history."""
    people = [
        ("Maria", "Garcia", "Globex", "maria.garcia@globex.example"),
        ("Chen", "Wei", "Initech", "chen.wei@initech.example"),
        ("Aisha", "Okafor", "Hooli", "aisha@hooli.example"),
        ("Jonas", "Müller", "Umbrella", "jonas.mueller@umbrella.example"),
        ("Priya", "Rossi", "Stark", "priya@stark.example"),
    ]
    emails = []
    for number, (first, last, company, address) in enumerate(people):
        person = Person.objects.create(
            owner=owner, email=address, first_name=first, last_name=last, company=company
        )
        emails.append(
            email_in(
                Status.DELIVERED,
                owner,
                to=person.email,
                subject=f"Quick question about {company}",
                opens=number % 3,
                clicks=number % 2,
                replies=1 if number == 2 else 0,
            )
        )
    email_in(Status.SCHEDULED, owner, to="lee@wayne.example", subject="Worth a chat next week?")
    email_in(
        Status.FAILED,
        owner,
        to="nobody@tyrell.example",
        subject="Following up",
        reason="550 5.1.1 <nobody@tyrell.example>: Recipient address rejected: User unknown",
    )
    email_in(
        Status.BOUNCED,
        owner,
        to="full@hooli.example",
        subject="Idea for your team",
        reason="Soft bounce (mailboxfull): 552 5.2.2 Mailbox full.",
    )
    featured = emails[2]
    Email.objects.filter(pk=featured.pk).update(
        body_html="<p>Hi Aisha,</p><p>Would a <b>15-minute call</b> next week make sense?</p>"
        "<p>Best,<br>Alice</p>",
        body_text="Hi Aisha,\n\nWould a 15-minute call next week make sense?\n\nBest,\nAlice",
        message_id="<20261126.4f2a@commandcenter.example>",
    )
    history = [
        ("claimed", Status.SCHEDULED, Status.IN_PROGRESS, "", "", {}),
        ("sent", Status.IN_PROGRESS, Status.DELIVERED, "", "250 2.0.0 Ok: queued as 4XyZ9", {}),
        (
            "opened",
            "",
            "",
            "Human open",
            "",
            {"user_agent": "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", "machine": False},
        ),
        ("clicked", "", "", "https://example.com/pricing", "", {"machine": False}),
        ("replied", "", "", "Re: Quick question about Hooli", "", {}),
    ]
    for kind, source, target, detail, payload, data in history:
        featured.events.create(
            kind=kind,
            from_status=source,
            to_status=target,
            detail=detail,
            payload=payload,
            data=data,
            created_at=featured.created_at,
        )
    return featured


def test_it_shows_a_busy_command_center(page: Page, alice: User) -> None:
    featured = busy_outbox(alice)
    sign_in(page, "alice", "alice-pass")
    page.goto("/folders/delivered/")
    expect(sub_tab_count(page, "delivered")).to_have_text("5")
    expect(page.locator('[data-tab="undelivered"] .count')).to_have_text("2")
    expect(page.locator("table.emails tbody tr")).to_have_count(5)
    expect(page.locator("table.emails")).to_contain_text("Aisha Okafor")
    screenshot(page, "docs-command-center")
    page.goto(f"/emails/{featured.pk}/")
    expect(page.locator("ol.events li")).to_have_count(6)
    expect(page.frame_locator("iframe.email-html").locator("b")).to_have_text("15-minute call")
    screenshot(page, "docs-email-timeline")
