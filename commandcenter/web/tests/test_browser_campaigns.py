"""The issue's "done means", in Debian's Chromium: a rep builds a three-step campaign, enrols
20 people from the People list, the engine sends day 1 to the mail catcher, a reply ends one
person's campaign, the call tasks show in Today on day 3, and one is completed."""

from __future__ import annotations

import datetime as dt
import re
import socket
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Browser, Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.campaigns.engine import Engine
from commandcenter.campaigns.models import Campaign, Enrolment
from commandcenter.campaigns.tests.conftest import send_through
from commandcenter.campaigns.tests.inbound import reply_to
from commandcenter.delivery.catcher import list_messages, start_catcher
from commandcenter.delivery.sender import Sender
from commandcenter.outbox.models import Email
from commandcenter.people.models import Person
from commandcenter.signals.apply import apply_inbound
from commandcenter.tasks.models import Task
from commandcenter.web.tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A Monday (in the future, so that the browser's own clock keeps our cookies).
MONDAY = dt.datetime(2027, 3, 1, 8, 0, tzinfo=NEW_YORK)


@pytest.fixture
def rep() -> User:
    user = create_user("alice", email="alice@example.com", password="alice-pass")
    user.time_zone = "America/New_York"
    user.save()
    for n in range(20):
        Person.objects.create(
            owner=user, email=f"p{n:02d}@acme.example", first_name=f"Pat{n:02d}", company="Acme",
            time_zone="America/New_York",
        )  # fmt: skip
    return user


@pytest.fixture
def catcher(settings: SettingsWrapper, tmp_path: Path) -> Iterator[None]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CATCHER_DIR = tmp_path / "catcher"
    controller = start_catcher(port=port)
    send_through(settings, port)
    yield
    controller.stop()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """As in test_browser.py, with a longer wait: this test drives the engine between steps."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def build_three_step_campaign(page: Page) -> None:
    page.goto("/campaigns/new/")
    page.fill("#id_name", "Q1 outreach")
    expect(page.locator("#id_skip_weekends")).to_be_checked()
    page.fill("#step-0-day", "1")
    page.select_option("#step-0-type", "auto_email")
    page.fill("#step-0-time", "09:00")
    page.fill("#step-0-subject", "Hello {{first_name}}")
    page.fill("#step-0-body_text", "Hi {{first_name}}, a quick question about {{company}}.")
    page.fill("#step-1-day", "3")
    page.select_option("#step-1-type", "call")
    page.fill("#step-1-time", "10:00")
    page.fill("#step-1-notes", "Ask about the pilot.")
    page.fill("#step-2-day", "5")
    page.select_option("#step-2-type", "auto_email")
    page.fill("#step-2-time", "09:00")
    page.check("#step-2-thread")
    page.fill("#step-2-body_text", "Following up, {{first_name}}.")
    screenshot(page, "campaign-builder")
    page.click("text=Save campaign")
    expect(page.locator(".flash")).to_contain_text("Campaign saved.")


def test_a_rep_runs_a_three_step_campaign(page: Page, rep: User, catcher: None) -> None:
    with time_machine.travel(MONDAY, tick=True) as traveller:
        page.goto("/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "alice-pass")
        page.click("button[type=submit]")
        build_three_step_campaign(page)
        campaign = Campaign.objects.get()
        assert [s.day for s in campaign.steps.order_by("position")] == [1, 3, 5]

        page.goto("/people/")
        page.check("input[data-select-all]")
        page.select_option("select[name=campaign]", label="Q1 outreach")
        page.click("button[data-enrol]")
        expect(page.locator("h1")).to_have_text("Enrol 20 people in Q1 outreach?")
        page.click("button[data-confirm-enrol]")
        expect(page.locator(".flash")).to_contain_text("Enrolled 20.")
        assert Enrolment.objects.filter(campaign=campaign, state="active").count() == 20

        traveller.move_to(MONDAY.replace(hour=9))
        Engine().run_once()
        assert Sender().drain() == 20
        caught = list_messages()
        assert len(caught) == 20
        assert {m.subject for m in caught} == {f"Hello Pat{n:02d}" for n in range(20)}

        replied = Email.objects.get(to_address="p07@acme.example")
        apply_inbound(reply_to(replied), source="imap")
        Engine().run_once()  # the others go on to their call on day 3
        page.goto(f"/campaigns/{campaign.pk}/")
        expect(page.locator('tr[data-state="exited"]')).to_have_count(1)
        expect(page.locator('tr[data-state="exited"]')).to_contain_text("Pat07 replied on 1 Mar")
        screenshot(page, "campaign")

        traveller.move_to(MONDAY.replace(day=3, hour=10))  # Wednesday: day 3
        Engine().run_once()
        assert Task.objects.filter(type="call", status="open").count() == 19
        page.goto("/tasks/")
        expect(page.locator('[data-count="today"]')).to_have_text("19")
        expect(page.locator('[data-count="overdue"]')).to_have_text("0")
        assert page.locator("tr[data-task]", has_text="Pat07").count() == 0
        screenshot(page, "tasks")

        page.click("text=Start tasks")
        expect(page.locator("main")).to_contain_text("19 tasks left today")
        page.select_option("select[name=outcome]", "connected")
        page.fill("textarea[name=outcome_notes]", "Interested; send the pilot plan.")
        screenshot(page, "task-flow")
        page.click("button[value=complete]")
        expect(page.locator("main")).to_contain_text("18 tasks left today")
        page.goto("/tasks/")
        expect(page.locator('[data-count="today"]')).to_have_text("18")
        expect(page.locator('[data-count="completed"]')).to_have_text("1")
        done = Task.objects.get(status="completed")
        assert (done.outcome, done.outcome_notes) == (
            "connected",
            "Interested; send the pilot plan.",
        )

        page.goto(f"/people/{done.person_id}/")
        expect(page.locator("tr[data-kind=task]").first).to_contain_text("completed")
        expect(page.locator("tr[data-kind=email]").first).to_contain_text("Hello")
        screenshot(page, "person")
        page.goto("/campaigns/")
        expect(page.locator(f'tr[data-campaign="{campaign.pk}"]')).to_contain_text("Q1 outreach")
        screenshot(page, "campaigns")
        page.goto("/folders/delivered/")
        expect(page.locator("td.campaign").first).to_have_text(
            re.compile(r"Q1 outreach · Day 1 · Automatic email")
        )
