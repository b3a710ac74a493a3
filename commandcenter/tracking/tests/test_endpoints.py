"""The pixel and click endpoints, through the spool, into events."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.outbox import actions
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status, transition
from commandcenter.tracking.hits import drain
from commandcenter.tracking.instrument import instrument
from commandcenter.tracking.models import TrackedLink
from commandcenter.tracking.tests.conftest import CHROME, deliver, delivered_email
from commandcenter.tracking.views import GIF, recorded_link

CLICK = re.compile(r"https://cc\.example\.net(/t/c/[A-Za-z0-9_-]+)")
GARBAGE = [
    "",
    "x",
    "%00%ff",
    "../../etc/passwd",
    "A" * 5000,
    "'; DROP TABLE outbox_email; --",
    "\u00e9\u4e2d\u6587",
    "a/b/c",
    "AAAAAAAAAAAAAAAAAAAAAAAA.gif",
]


def click_paths(email: Email) -> list[str]:
    html, _ = instrument(email, email.body_html, "")
    return CLICK.findall(html)


def events(email: Email, kind: str) -> list[Event]:
    return list(Event.objects.filter(email=email, kind=kind))


def test_it_answers_the_pixel_and_records_a_human_open(client: Client, email: Email) -> None:
    response = client.get(f"/t/o/{email.token}.gif", HTTP_REFERER="https://mail.example/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == GIF
    assert "no-store" in response["Cache-Control"]
    assert drain() == 1
    (opened,) = events(email, "opened")
    assert opened.data["machine"] is False
    assert opened.data["user_agent"] == CHROME
    assert opened.data["referrer"] == "https://mail.example/"
    assert opened.data["method"] == "GET"
    assert opened.data["ip"] == "127.0.0.1"
    assert f"User-Agent: {CHROME}" in opened.payload
    email.refresh_from_db()
    assert email.opens == 1


@pytest.mark.parametrize("token", GARBAGE)
def test_it_answers_the_pixel_for_any_token_and_records_nothing(
    client: Client, email: Email, token: str
) -> None:
    response = client.get(f"/t/o/{token}")
    assert response.status_code == 200
    assert response.content == GIF
    drain()
    assert not Event.objects.filter(kind="opened").exists()


@pytest.mark.parametrize("token", GARBAGE)
def test_it_answers_an_unknown_link_with_a_plain_page_never_a_redirect(
    client: Client, email: Email, token: str
) -> None:
    response = client.get(f"/t/c/{token}?url=https://evil.example/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert "Location" not in response
    response = client.post(f"/t/u/{token}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    assert client.get(f"/t/u/{token}").status_code == 404


def test_it_redirects_only_to_the_url_recorded_at_send_time(client: Client, email: Email) -> None:
    first, second = click_paths(email)
    response = client.get(first + "?url=https://evil.example/&next=https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/pricing?a=1&b=2"
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.get(second)["Location"] == "https://example.com/demo"
    drain()
    clicks = events(email, "clicked")
    assert [e.data["url"] for e in clicks] == [
        "https://example.com/pricing?a=1&b=2",
        "https://example.com/demo",
    ]
    # Both links of the email within a second: that is a scanner's pace, not a person's.
    assert [e.data["machine"] for e in clicks] == [True, True]


def test_it_counts_a_persons_click(client: Client, email: Email) -> None:
    (path, _) = click_paths(email)
    client.get(path)
    client.get(path)  # a double click is not a burst
    drain()
    clicks = events(email, "clicked")
    assert [(e.data["machine"], e.data["position"]) for e in clicks] == [(False, 0), (False, 0)]
    assert clicks[0].detail == "a person's Chrome (mail client or browser)"
    email.refresh_from_db()
    assert email.clicks == 2


def test_it_records_nothing_for_an_archived_email_but_still_redirects(
    client: Client, email: Email
) -> None:
    (path, _) = click_paths(email)
    actions.archive(email)
    assert client.get(path)["Location"] == "https://example.com/pricing?a=1&b=2"
    assert client.get(f"/t/o/{email.token}.gif").content == GIF
    assert drain() == 2
    assert events(email, "clicked") == events(email, "opened") == []
    actions.unarchive(email)
    client.get(path)
    client.get(f"/t/o/{email.token}.gif")
    drain()
    assert len(events(email, "clicked")) == len(events(email, "opened")) == 1
    email.refresh_from_db()
    assert (email.opens, email.clicks) == (1, 1)


def test_it_keeps_machine_hits_on_the_timeline_without_counting_them(email: Email) -> None:
    (path, _) = click_paths(email)
    Client(HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="17.58.63.10").get(f"/t/o/{email.token}.gif")
    Client(HTTP_USER_AGENT="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)").get(path)
    Client(HTTP_USER_AGENT=CHROME).head(path)
    drain()
    recorded = events(email, "opened") + events(email, "clicked")
    assert [e.data["machine"] for e in recorded] == [True, True, True]
    assert "Apple Mail Privacy Protection" in recorded[0].detail
    assert recorded[2].data["method"] == "HEAD"
    email.refresh_from_db()
    assert (email.opens, email.clicks) == (0, 0)


def test_it_takes_a_burst_of_clicks_on_every_link_for_a_scanner(
    client: Client, alice: User
) -> None:
    html = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(4))
    email = delivered_email(alice, body_html=html, body_text="")
    paths = click_paths(email)
    for path in paths:
        client.get(path)
    drain()
    clicks = events(email, "clicked")
    assert len(clicks) == 4
    assert all(c.data["machine"] for c in clicks)
    assert "links clicked within 1 s" in clicks[0].detail
    email.refresh_from_db()
    assert email.clicks == 0


def test_it_sees_a_burst_whose_first_clicks_were_recorded_by_an_earlier_drain(
    client: Client, alice: User
) -> None:
    html = "".join(f'<a href="https://example.com/{n}">{n}</a>' for n in range(4))
    email = delivered_email(alice, body_html=html, body_text="")
    first, second, third, _ = click_paths(email)
    client.get(first)
    client.get(second)
    drain()
    assert not any(c.data["machine"] for c in events(email, "clicked"))
    client.get(third)
    drain()
    latest = Event.objects.filter(email=email, kind="clicked").latest("id")
    assert latest.data["machine"] is True
    assert "3 links clicked within 1 s" in latest.detail


def test_it_sees_a_burst_on_a_two_link_email_across_drains(client: Client, alice: User) -> None:
    html = '<a href="https://example.com/a">a</a> <a href="https://example.com/b">b</a>'
    email = delivered_email(alice, body_html=html, body_text="")
    first, second = click_paths(email)
    client.get(first)
    drain()
    client.get(second)
    drain()
    latest = Event.objects.filter(email=email, kind="clicked").latest("id")
    assert "2 links clicked within 1 s" in latest.detail


def test_it_never_takes_fast_clicks_on_a_one_link_email_for_a_burst(
    client: Client, alice: User
) -> None:
    email = delivered_email(alice, body_html='<a href="https://example.com/a">a</a>', body_text="")
    (path,) = click_paths(email)
    client.get(path)
    drain()
    for _ in range(3):
        client.get(path)
    drain()
    clicks = events(email, "clicked")
    assert [c.detail for c in clicks] == ["a person's Chrome (mail client or browser)"] * 4
    email.refresh_from_db()
    assert email.clicks == 4


def test_it_finds_each_link_by_its_own_token_only(email: Email, alice: User) -> None:
    other = delivered_email(alice, to="sam@example.org")
    click_paths(email)
    click_paths(other)
    for link in TrackedLink.objects.all():
        assert recorded_link(link.token) == (link.email_id, link.position, link.url)
        assert recorded_link(link.token.swapcase()) is None
    assert recorded_link("A" * 24) is None


def test_it_takes_a_click_seconds_after_delivery_for_a_scanner(client: Client, alice: User) -> None:
    email = delivered_email(alice)
    fresh = deliver_again_just_now(email)
    (path, _) = click_paths(fresh)
    client.get(path)
    drain()
    (clicked,) = events(fresh, "clicked")
    assert clicked.data["machine"] is True
    assert "after delivery" in clicked.detail


def deliver_again_just_now(email: Email) -> Email:
    """The email bounced and was sent again a moment ago."""
    assert transition(email.pk, Status.BOUNCED, kind="bounced")
    assert transition(email.pk, Status.SCHEDULED, kind="retried")
    return deliver(email, sent_ago=dt.timedelta(seconds=1))


def test_it_excludes_the_senders_own_opens_and_clicks(client: Client, email: Email) -> None:
    (path, _) = click_paths(email)
    client.force_login(email.owner)
    client.get(f"/t/o/{email.token}.gif")
    client.get(path)
    drain()
    recorded = events(email, "opened") + events(email, "clicked")
    assert [(e.data["excluded"], e.data["machine"]) for e in recorded] == [
        (True, False),
        (True, False),
    ]
    assert recorded[0].detail == "the sender's own open"
    email.refresh_from_db()
    assert (email.opens, email.clicks) == (0, 0)


def test_it_counts_another_signed_in_users_open(client: Client, email: Email, bob: User) -> None:
    client.force_login(bob)
    client.get(f"/t/o/{email.token}.gif")
    drain()
    email.refresh_from_db()
    assert email.opens == 1


def test_it_stores_user_agents_and_referrers_as_they_came(email: Email) -> None:
    hostile = '<script>alert("x")</script>\u202e\u00e9'
    Client(HTTP_USER_AGENT=hostile, HTTP_REFERER=hostile).get(f"/t/o/{email.token}.gif")
    drain()
    (opened,) = events(email, "opened")
    assert opened.data["user_agent"] == hostile
    assert opened.data["referrer"] == hostile


def test_it_records_nothing_when_tracking_is_switched_off(
    settings: SettingsWrapper, client: Client, email: Email
) -> None:
    settings.TRACKING_RECORD = False
    (path, _) = click_paths(email)
    assert client.get(f"/t/o/{email.token}.gif").content == GIF
    assert client.get(path)["Location"] == "https://example.com/pricing?a=1&b=2"
    assert drain() == 0
    assert events(email, "opened") == events(email, "clicked") == []


def test_it_redirects_to_odd_recorded_urls_without_an_error(client: Client, email: Email) -> None:
    body = (
        '<a href="https://x.example/\x00a\x0b\u2028b c?q=%ff&amp;r=\u00e9">odd</a>'
        f'<a href="https://x.example/{"a" * 9000}">long</a>'
    )
    html, _ = instrument(email, body, "")
    odd, long = CLICK.findall(html)
    assert client.get(odd)["Location"] == "https://x.example/%00a%0B%E2%80%A8b%20c?q=%ff&r=%C3%A9"
    assert client.get(long)["Location"] == f"https://x.example/{'a' * 9000}"
