"""The issue's "done means", in Debian's Chromium: 100 people enrolled in a campaign, the
engine sends day 1 to the mail catcher, a few of them view and click through the tracking
links of the messages they got, one replies; the search of the campaign's people who viewed
and clicked but did not reply shows exactly them, gains one in the open page and its live
feed when another person clicks, and the follow-up to them goes out in their threads."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.message import Message

import pytest
from django.db.models import F
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.campaigns import enrol
from commandcenter.campaigns.builder import StepSpec, create_campaign
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.models import Campaign
from commandcenter.campaigns.tests.inbound import reply_to
from commandcenter.delivery.catcher import get_message, list_messages
from commandcenter.delivery.sender import Sender
from commandcenter.outbox.models import Email
from commandcenter.people.models import Person
from commandcenter.search.models import SavedSearch
from commandcenter.search.tests import test_browser as seeds
from commandcenter.signals.apply import apply_inbound
from commandcenter.web.tests import test_browser_campaigns as campaign_browser_test
from commandcenter.web.tests.conftest import browser, screenshot  # noqa: F401 -- fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The fixtures and helpers of the search's first browser test.
page, tracking, hit, LIVE_WAIT_MS = seeds.page, seeds.tracking, seeds.hit, seeds.LIVE_WAIT_MS
# The embedded mail catcher on a free port, the sender pointed at it (the campaigns' test's).
catcher = campaign_browser_test.catcher
PEOPLE = 100
PUBLIC = "https://cc.example.net"
PIXEL = re.compile(r'src="https://cc\.example\.net(/t/o/[^"]+)"')
LINK = re.compile(r'href="https://cc\.example\.net(/t/c/[^"]+)"')


def campaign_of(rep: User) -> Campaign:
    people = [
        Person(owner=rep, email=f"p{n:02d}@acme.example", first_name=f"Pat{n:02d}")
        for n in range(PEOPLE)
    ]
    Person.objects.bulk_create(people)
    campaign = create_campaign(
        rep,
        name="Q1 outreach",
        steps=[
            StepSpec(
                day=1,
                type="auto_email",
                subject="Hello {{first_name}}",
                body_html='<p>Hi {{first_name}}, our <a href="https://acme.example/pricing">'
                "pricing</a>.</p>",
            ),
            StepSpec(day=8, type="call", notes="Ask about the pilot."),
        ],
    )
    result = enrol.enrol(rep, campaign, [p.email for p in people])
    assert len(result.enrolled) == PEOPLE
    return campaign


def caught() -> dict[str, Message]:
    """Every message the catcher holds, by recipient (the latest one each)."""
    found: dict[str, Message] = {}
    for brief in reversed(list_messages(limit=1000)):
        full = get_message(brief.key)
        assert full is not None
        found[brief.recipients[0].lower()] = message_from_bytes(full.raw)
    return found


def html_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no HTML part")


def view(live_server: LiveServer, message: Message) -> None:
    """The recipient's mail client loads the open pixel of the message it got."""
    hit(live_server, PIXEL.findall(html_of(message))[0])


def click(live_server: LiveServer, message: Message) -> None:
    hit(live_server, LINK.findall(html_of(message))[0])


def sign_in(page: Page) -> None:
    page.goto("/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass")
    page.click("button[type=submit]")


def build_the_seeds_search(page: Page) -> None:
    """Of the campaign's people: viewed, and clicked, and not replied; as people."""
    page.click("text=Advanced search")
    conditions = page.locator("#builder .condition")
    page.click("text=Add condition")
    conditions.nth(0).locator("select").first.select_option("campaign")
    conditions.nth(0).locator("select").nth(2).select_option(label="Q1 outreach")
    page.click("text=Add condition")  # Views …
    conditions.nth(1).locator("select").nth(1).select_option("gte")
    page.click("text=Add condition")
    conditions.nth(2).locator("select").first.select_option("clicks")
    conditions.nth(2).locator("select").nth(1).select_option("gte")
    seeds.add_no_reply_group(page)
    seeds.search_for_people(page)


def addresses_in_results(page: Page) -> list[str]:
    return sorted(page.locator("#results-body tr[data-email] .address").all_inner_texts())


def test_the_seeds_example_end_to_end(
    page: Page,
    live_server: LiveServer,
    tracking,
    catcher,
) -> None:
    alice = create_user("alice", email="alice@example.com", password="alice-pass")
    campaign = campaign_of(alice)
    Engine().drain()
    assert Sender().drain() == PEOPLE
    messages = caught()
    assert len(messages) == PEOPLE
    # The people read it an hour later (a hit seconds after delivery is a scanner's).
    Email.objects.filter(campaign=campaign).update(sent_at=F("sent_at") - dt.timedelta(hours=1))
    address = [f"p{n:02d}@acme.example" for n in range(PEOPLE)]
    for n in range(10):
        view(live_server, messages[address[n]])
    for n in range(6):
        click(live_server, messages[address[n]])
    apply_inbound(reply_to(Email.objects.get(to_address=address[0])), source="imap")
    # Viewed and clicked, no reply: people 1 to 5. People 6 to 9 only viewed.
    expected = address[1:6]

    sign_in(page)
    build_the_seeds_search(page)
    expect(page).to_have_url(re.compile(r"/search/\?f=.*results=people"))
    assert addresses_in_results(page) == expected
    expect(page.locator("#results-body td.campaign").first).to_contain_text("Q1 outreach")
    screenshot(page, "search-campaign")

    page.fill("input[name=name]", "Q1: viewed and clicked, no reply")
    page.click("button:has-text('Save search')")
    expect(page).to_have_url(re.compile(r"/search/saved/\d+/$"))
    saved = SavedSearch.objects.get()
    assert saved.filter["all"][0] == {"field": "campaign", "op": "eq", "value": campaign.pk}
    assert addresses_in_results(page) == expected
    expect(page.locator(f'[data-saved-count="{saved.pk}"]')).to_have_text("5")
    expect(page.locator(".live-feed")).to_have_class(re.compile("is-live"), timeout=LIVE_WAIT_MS)

    click(live_server, messages[address[6]])  # viewed before; now clicks too: joins
    joined = page.locator(".feed-items li.feed-joined")
    expect(joined).to_contain_text(address[6], timeout=LIVE_WAIT_MS)
    expect(page.locator("#results-body tr.new")).to_contain_text(address[6], timeout=LIVE_WAIT_MS)
    expect(page.locator("#results-body tr[data-email]")).to_have_count(6)
    expect(page.locator(f'[data-saved-count="{saved.pk}"]')).to_have_text("6", timeout=LIVE_WAIT_MS)
    assert addresses_in_results(page) == address[1:7]

    page.click("summary:has-text('Enrol in a campaign')")
    expect(page.locator("select[name=campaign]")).to_be_visible()
    screenshot(page, "saved-search-actions")

    # The follow-up to all six: Select and Send, each copy answering that person's email.
    page.click("button:has-text('Follow up with all 6')")
    expect(page.locator("[data-threaded]")).to_be_visible()
    page.locator("trix-editor").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("Glad you had a look, {{first_name}}. ")
    page.click("button[value=preview]")
    copies = page.locator("ol.copies li.copy")
    expect(copies).to_have_count(6)
    expect(copies.locator(".thread")).to_have_count(6)
    expect(copies.first.locator(".preview-subject")).to_have_text("Re: Hello Pat01")
    screenshot(page, "follow-up-preview")
    page.click("button[value=send]")
    expect(page.locator(".flash")).to_contain_text("6 emails created.")
    assert Sender().drain() == 6

    after = caught()
    for n in range(1, 7):
        engaged_with = Email.objects.get(to_address=address[n], campaign=campaign)
        follow_up = after[address[n]]
        assert follow_up["Message-ID"] != engaged_with.message_id
        assert follow_up["In-Reply-To"] == engaged_with.message_id
        assert follow_up["References"] == engaged_with.message_id
        assert follow_up["Subject"] == f"Re: Hello Pat{n:02d}"
        assert "Glad you had a look, Pat" in html_of(follow_up)
