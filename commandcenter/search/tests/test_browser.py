"""The seed's example in Debian's Chromium: of the people emailed, those who viewed and clicked
but did not reply — built in the search builder, saved, and filling by itself when another
person clicks (through the real tracking endpoints), in the open page and its live feed."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.outbox.models import Email
from commandcenter.search.models import SavedSearch
from commandcenter.signals.apply import apply_inbound
from commandcenter.signals.tests.factories import mail
from commandcenter.tracking.hits import drain
from commandcenter.tracking.tests.conftest import CHROME, delivered_email
from commandcenter.tracking.tests.test_endpoints import click_paths
from commandcenter.web.tests.conftest import browser, screenshot  # noqa: F401 -- fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PEOPLE = 12
LIVE_WAIT_MS = 10_000


@pytest.fixture
def tracking(settings: SettingsWrapper, tmp_path: Path) -> None:
    """Hits go to a private spool that the test drains itself (the real recording path)."""
    settings.TRACKING_SPOOL_DIR = tmp_path / "spool"
    settings.TRACKING_DRAIN_IN_WEB = False
    settings.TRACKING_RECORD = True
    settings.PUBLIC_URL = "https://cc.example.net"


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": 1440, "height": 900}
    )
    context.set_default_timeout(5_000)
    opened = context.new_page()
    yield opened
    context.close()


def hit(live_server: LiveServer, path: str) -> None:
    """A recipient's mail client: a plain GET of the pixel or the link, no session."""
    request = urllib.request.Request(  # noqa: S310 -- the test's own http server
        live_server.url + path, headers={"User-Agent": CHROME}
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 302  # the click redirect, not followed
    assert drain() >= 1


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def view(live_server: LiveServer, email: Email) -> None:
    hit(live_server, f"/t/o/{email.token}.gif")


def click(live_server: LiveServer, email: Email) -> None:
    hit(live_server, click_paths(email)[0].removeprefix("https://cc.example.net"))


def reply(email: Email) -> None:
    Email.objects.filter(pk=email.pk).update(message_id=f"<sent-{email.pk}@cc.example.net>")
    apply_inbound(
        mail(
            f"""
From: {email.to_address}
To: alice@example.com
Subject: Re: Pricing
Message-ID: <reply-{email.pk}@example.org>
In-Reply-To: <sent-{email.pk}@cc.example.net>
""",
            "Sounds good.",
        ),
        source="test",
    )


def add_no_reply_group(page: Page) -> None:
    """A nested "any" group with one condition, negated: no reply."""
    page.click("text=Add group")
    nested = page.locator("#builder .group .group")
    nested.locator(".group-head .not input").check()
    nested.locator(".condition select").first.select_option("replies")
    nested.locator(".condition select").nth(1).select_option("gte")


def search_for_people(page: Page) -> None:
    page.select_option("select[name=results]", "people")
    page.click("button:has-text('Search')")


def names_in_results(page: Page) -> list[str]:
    """The recipients on the page (these people have no names: the address stands first)."""
    return sorted(page.locator("#results-body tr[data-email] .name").all_inner_texts())


def test_the_seeds_example_fills_by_itself(page: Page, live_server: LiveServer, tracking) -> None:
    alice = create_user("alice", email="alice@example.com", password="alice-pass")
    emails = [
        delivered_email(alice, to=f"person{number:02d}@prospect.example")
        for number in range(PEOPLE)
    ]
    for email in emails[:6]:
        view(live_server, email)
    for email in emails[:4]:
        click(live_server, email)
    reply(emails[0])
    # Viewed and clicked, no reply: people 1, 2 and 3. Person 4 and 5 only viewed.
    expected = [f"person{number:02d}@prospect.example" for number in (1, 2, 3)]

    page.goto("/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass")
    page.click("button[type=submit]")
    page.click("text=Advanced search")
    page.click("text=Add condition")  # Views …
    conditions = page.locator("#builder .condition")
    conditions.nth(0).locator("select").nth(1).select_option("gte")
    page.click("text=Add condition")
    conditions.nth(1).locator("select").first.select_option("clicks")
    conditions.nth(1).locator("select").nth(1).select_option("gte")
    add_no_reply_group(page)
    search_for_people(page)
    expect(page).to_have_url(re.compile(r"/search/\?f=.*results=people"))
    assert names_in_results(page) == expected
    screenshot(page, "search-builder")

    page.fill("input[name=name]", "Viewed and clicked, no reply")
    page.click("button:has-text('Save search')")
    expect(page).to_have_url(re.compile(r"/search/saved/\d+/$"))
    saved = SavedSearch.objects.get()
    assert saved.results == "people"
    assert names_in_results(page) == expected
    sidebar_count = page.locator(f'[data-saved-count="{saved.pk}"]')
    expect(sidebar_count).to_have_text("3")
    expect(page.locator(".live-feed")).to_have_class(re.compile("is-live"), timeout=LIVE_WAIT_MS)

    click(live_server, emails[4])  # viewed before; now clicks too: joins
    feed_joined = page.locator(".feed-items li.feed-joined")
    expect(feed_joined).to_contain_text("person04@prospect.example", timeout=LIVE_WAIT_MS)
    expect(page.locator(".feed-items li", has_text="clicked")).not_to_have_count(0)
    new_row = page.locator("#results-body tr.new")
    expect(new_row).to_contain_text("person04@prospect.example", timeout=LIVE_WAIT_MS)
    expect(page.locator("#results-body tr[data-email]")).to_have_count(4)
    expect(sidebar_count).to_have_text("4", timeout=LIVE_WAIT_MS)
    screenshot(page, "saved-search-live")


def test_a_shared_search_shows_a_teammate_only_their_own_people(
    page: Page, live_server: LiveServer, tracking
) -> None:
    alice = create_user("alice", email="alice@example.com", password="alice-pass")
    bob: User = create_user("bob", email="bob@example.com", password="bob-pass")
    for owner, to in ((alice, "alices@prospect.example"), (bob, "bobs@prospect.example")):
        click(live_server, delivered_email(owner, to=to))
    SavedSearch.objects.create(
        owner=alice,
        name="Clickers",
        shared=True,
        filter={"v": 1, "all": [{"field": "clicks", "op": "gte", "value": 1}]},
    )
    page.goto("/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", "bob-pass")
    page.click("button[type=submit]")
    page.click("text=Clickers")
    assert names_in_results(page) == ["bobs@prospect.example"]
