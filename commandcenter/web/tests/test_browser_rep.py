"""The Emails section as a rep lives in it, in Debian's Chromium at desktop and phone width.

Each test runs at 1280 px and at 390 px (a phone) and keeps a screenshot of what it saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.delivery.models import SentMessage
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.delivery.tests.helpers import point_at
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox.compose import Content, Recipient, compose_bulk
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression
from commandcenter.signals.record import record_signal
from commandcenter.web.tests.conftest import screenshot
from commandcenter.web.tests.helpers import email_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1280, "phone": 390}
LIVE_WAIT_MS = 10_000


@pytest.fixture
def rep() -> User:
    user = create_user("rita", email="rita@example.com", password="rita-pass", admin=True)
    user.first_name, user.last_name = "Rita", "Moreno"
    user.signature, user.time_zone = "Rita Moreno\nAccount Executive", "Europe/Paris"
    user.save()
    return user


@pytest.fixture(params=list(WIDTHS))
def page(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[Page]:
    width = WIDTHS[request.param]
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(8_000)
    opened = context.new_page()
    opened.width_name = request.param  # type: ignore[attr-defined]
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    screenshot(page, f"{name}-{page.width_name}")  # type: ignore[attr-defined]


def is_phone(page: Page) -> bool:
    return page.width_name == "phone"  # type: ignore[attr-defined]


def sign_in(page: Page) -> None:
    page.goto("/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "rita-pass")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/folders/delivered/"))


def open_menu(page: Page) -> None:
    """On a phone the header is one Menu button; on a desktop everything shows."""
    if is_phone(page):
        page.click(".menu-toggle")


def fits(page: Page) -> None:
    """Nothing sticks out sideways: the page is usable without scrolling left and right."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow} px wider than the screen"


def write(page: Page, text: str) -> None:
    page.locator("trix-editor").click()
    page.keyboard.type(text)


def test_every_page_fits_the_screen_and_the_menu_reaches_everything(page: Page, rep: User) -> None:
    email = email_in(Status.DELIVERED, rep, subject="Quick question about Globex")
    Template.objects.create(owner=rep, name="Intro", subject="Hi", body_text="x")
    page.goto("/login/")
    fits(page)
    shot(page, "sign-in")
    sign_in(page)
    for path in [
        "/folders/delivered/",
        "/folders/failed/",
        f"/emails/{email.pk}/",
        "/compose/",
        "/compose/bulk/?mode=select_and_send",
        "/people/",
        "/people/new/",
        "/templates/",
        "/settings/",
    ]:
        page.goto(path)
        fits(page)
    if is_phone(page):
        expect(page.locator(".main-nav")).to_be_hidden()
    open_menu(page)
    expect(page.locator(".main-nav a", has_text="People")).to_be_visible()
    page.click("header .user-menu summary")
    expect(page.locator("header .user-menu a", has_text="Settings")).to_be_visible()
    shot(page, "menu")
    page.click("text=Sign out")
    expect(page).to_have_url(re.compile(r"/login/"))


def test_it_writes_with_the_editor_fills_a_missing_field_and_sends_now(
    page: Page, rep: User, settings: SettingsWrapper
) -> None:
    Person.objects.create(owner=rep, email="pat@globex.example", first_name="Pat")
    sign_in(page)
    open_menu(page)
    page.click("header >> text=Compose")
    # htmx binds the field's typing when the page has loaded: type after that, as a person does.
    expect(page).to_have_url(re.compile(r"/compose/$"))
    page.wait_for_load_state("load")
    # The "To" field suggests people as one types.
    page.locator("#id_to").press_sequentially("pa")
    expect(page.locator("#to-suggestions option[value='pat@globex.example']")).to_have_count(1)
    page.locator("#id_to").fill("nia@initech.example")
    page.fill("#id_subject", "Hello ")
    page.locator("#id_subject").focus()
    page.select_option("select[data-merge-menu]", "first_name")
    expect(page.locator("#id_subject")).to_have_value("Hello {{first_name}}")
    page.locator("trix-editor").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("Hi ")
    page.select_option("select[data-merge-menu]", "first_name")
    page.keyboard.type(", a quick question.")
    expect(page.locator("trix-editor")).to_contain_text("Hi {{first_name}}, a quick question.")
    expect(page.locator("trix-editor")).to_contain_text("Rita Moreno")  # the signature
    page.click("button[value=send]")
    # Nothing was created: the form says why, keeps what was typed, and offers the fix.
    expect(page.locator(".form-errors")).to_contain_text("would be empty for nia@initech.example")
    expect(page.locator("#id_subject")).to_have_value("Hello {{first_name}}")
    assert not Email.objects.exists()
    fits(page)
    shot(page, "compose-missing-field")
    page.fill("input[name=fill-first_name]", "Nia")
    page.click("button[value=send]")
    expect(page.locator(".flash")).to_contain_text("Sending to Nia…")
    sending = page.locator("tr.sending")
    expect(sending).to_contain_text("Sending to Nia…")
    shot(page, "sending")
    with SmtpSink() as sink:
        point_at(settings, sink.port, timeout=10)
        assert Sender().drain() == 1
        [received] = sink.messages
    # No reload: the row moves to Delivered on its own.
    row = page.locator("table.emails tbody tr", has_text="Hello Nia")
    expect(row.locator(".badge-delivered")).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(page.locator("tr.sending")).to_have_count(0)
    email = Email.objects.get()
    assert (email.subject, email.template_subject) == ("Hello Nia", "Hello {{first_name}}")
    assert "Hi Nia, a quick question." in email.body_text
    assert received.raw.rstrip(b"\r\n") == SentMessage.objects.get(email=email).raw.rstrip(b"\r\n")


def test_the_email_page_tells_what_went_out_and_shows_the_original(
    page: Page, rep: User, settings: SettingsWrapper
) -> None:
    Person.objects.create(owner=rep, email="pat@globex.example", first_name="Pat")
    with SmtpSink() as sink:
        point_at(settings, sink.port, timeout=10)
        from commandcenter.outbox.compose import compose_single

        email = compose_single(
            rep,
            to="pat@globex.example",
            subject="Hi {{first_name}}",
            body_html="<p>Hi <b>{{first_name}}</b></p>",
        )
        Sender().drain()
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148"
    )
    record_signal(email, "opened", counter="opens", data={"machine": False, "user_agent": iphone})
    record_signal(
        email, "opened", data={"machine": True, "reason": "Apple Mail Privacy Protection"}
    )
    sign_in(page)
    page.goto(f"/emails/{email.pk}/")
    expect(page.locator("h1.subject")).to_have_text("Hi Pat")
    events = page.locator("ol.events")
    expect(events).to_contain_text("Sent to Pat · accepted by 127.0.0.1:")
    expect(events).to_contain_text("Opened · iPhone, Mail app")
    expect(events).to_contain_text("Opened by Apple Mail Privacy Protection (not counted).")
    expect(page.locator("dl.meta")).to_contain_text("Paris time")
    # Raw facts only under Details.
    claimed = page.locator("ol.events li", has_text="The sender picked it up.")
    expect(claimed.locator("dl.data")).to_be_hidden()
    claimed.locator(".event-details summary").click()
    expect(claimed.locator("dl.data")).to_contain_text("worker")
    fits(page)
    shot(page, "email-timeline")
    with page.expect_popup() as popup:
        page.click("text=Show original")
    original = popup.value
    expect(original.locator("body")).to_contain_text("Subject: Hi Pat")
    expect(original.locator("body")).to_contain_text("Content-Type: multipart/alternative")


def test_retry_is_offered_only_where_it_can_succeed(page: Page, rep: User) -> None:
    spam = email_in(
        Status.SPAM,
        rep,
        to="angry@x.example",
        subject="Promo",
        reason="The recipient marked it as spam (abuse).",
    )
    bounced = email_in(
        Status.BOUNCED,
        rep,
        to="gone@x.example",
        subject="Hello",
        reason="userunknown: 550 5.1.1 no such user (hard bounce)",
    )
    Suppression.objects.create(value="gone@x.example", reason="userunknown: 550 no such user")
    email_in(
        Status.BOUNCED,
        rep,
        to="full@x.example",
        subject="Soft one",
        reason="mailboxfull: 452 mailbox full",
    )
    sign_in(page)
    page.goto("/folders/spam/")
    expect(
        page.locator("tr", has_text="Promo").locator("button", has_text="Retry Send")
    ).to_have_count(0)
    page.goto("/folders/bounced/")
    expect(
        page.locator("tr", has_text="Hello").locator("button", has_text="Retry Send")
    ).to_have_count(0)
    expect(
        page.locator("tr", has_text="Soft one").locator("button", has_text="Retry Send")
    ).to_have_count(1)
    shot(page, "bounced")
    page.goto(f"/emails/{bounced.pk}/")
    expect(page.locator(".note")).to_contain_text("Retry Send would fail:")
    page.click("text=Lift the suppression…")
    page.fill("#id_reason", "They fixed their mailbox")
    page.click("text=Yes, lift the suppression")
    expect(page.locator(".flash")).to_contain_text("is off the suppression list")
    page.goto(f"/emails/{bounced.pk}/")
    page.click("button:has-text('Retry Send')")
    expect(page.locator(".flash")).to_contain_text("1 email will be sent again.")
    assert Email.objects.get(pk=bounced.pk).status == Status.SCHEDULED
    assert Email.objects.get(pk=spam.pk).status == Status.SPAM


def test_a_group_subject_opens_the_group_and_templates_count_people(page: Page, rep: User) -> None:
    template = Template.objects.create(
        owner=rep, name="Webinar", subject="Our webinar", body_text="Join us", shared=True
    )
    batch, _emails = compose_bulk(
        rep,
        mode="group",
        recipients=[Recipient(f"p{i}@x.example") for i in range(3)],
        content=Content("Our webinar", "Join us"),
        template=template,
    )
    sign_in(page)
    page.goto("/folders/scheduled/")
    page.locator("tr.group td.subject a").click()
    expect(page).to_have_url(re.compile(rf"/batches/{batch.pk}/$"))
    expect(page.locator("table.members-table tbody tr")).to_have_count(3)
    fits(page)
    shot(page, "group")
    page.goto("/templates/")
    expect(page.locator("tr", has_text="Webinar")).to_contain_text("shared")
    page.locator("tr", has_text="Webinar").locator("text=Use").click()
    expect(page.locator("#id_subject")).to_have_value("Our webinar")
    shot(page, "compose-from-template")


def test_people_show_custom_fields_last_email_and_badges(page: Page, rep: User) -> None:
    pat = Person.objects.create(
        owner=rep,
        email="pat@globex.example",
        first_name="Pat",
        custom_fields={"industry": "rockets"},
    )
    email_in(Status.DELIVERED, rep, to="pat@globex.example", subject="About rockets", opens=2)
    Person.objects.create(
        owner=rep,
        email="dnc@x.example",
        first_name="Dee",
        do_not_contact=True,
        do_not_contact_reason="asked on a call",
    )
    sign_in(page)
    open_menu(page)
    page.click(".main-nav >> text=People")
    page.fill("input[name=q]", "rockets")
    page.click("form.search button")
    row = page.locator("tr", has_text="pat@globex.example")
    expect(row).to_contain_text("About rockets")
    expect(page.locator("tr", has_text="dnc@x.example")).to_have_count(0)
    page.goto("/people/")
    expect(page.locator("tr", has_text="dnc@x.example")).to_contain_text("asked on a call")
    fits(page)
    shot(page, "people")
    page.goto(f"/people/{pat.pk}/edit/")
    expect(page.locator("input[name=cf-name-0]")).to_have_value("industry")
    page.fill("input[name=cf-value-0]", "satellites")
    page.click("button.primary")
    expect(page.locator(".flash")).to_contain_text("Saved")
    pat.refresh_from_db()
    assert pat.custom_fields == {"industry": "satellites"}
