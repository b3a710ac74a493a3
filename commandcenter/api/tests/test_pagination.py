"""Keyset pages of a folder: every email once, in order, however the dates tie."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api, email_in
from commandcenter.outbox.states import Status


def walk(api: Api, user: User, first: str) -> tuple[list[int], list[str]]:
    """Follow rel="next" links from `first`; the ids seen and the links followed."""
    ids: list[int] = []
    links: list[str] = []
    path = first
    while True:
        response = api.get(path, user)
        assert response.status_code == 200, response.data
        assert isinstance(response.data, list)
        ids += [email["id"] for email in response.data]
        link = response.headers.get("Link")
        if link is None:
            assert "X-Next-Cursor" not in response.headers
            return ids, links
        url = link.removeprefix("<").split(">;")[0]
        assert link.endswith('; rel="next"')
        assert parse_qs(urlsplit(url).query)["cursor"] == [response.headers["X-Next-Cursor"]]
        links.append(url)
        path = url.split("/api/v1", 1)[1]


def test_it_pages_through_a_folder_without_duplicates_or_gaps(api: Api, alice: User) -> None:
    now = timezone.now()
    expected = []
    for i in range(23):
        # Three emails share each timestamp: the id breaks the tie.
        when = now - dt.timedelta(minutes=i // 3)
        expected.append(email_in(Status.DELIVERED, alice, to=f"p{i}@prospect.example",
                                 sort_at=when))  # fmt: skip
    email_in(Status.FAILED, alice)
    ids, links = walk(api, alice, "/emails?folder=delivered&limit=5")
    assert len(links) == 4
    assert len(ids) == len(set(ids)) == 23
    by_date = sorted(expected, key=lambda e: (e.sort_at, e.pk), reverse=True)
    assert ids == [email.pk for email in by_date]


def test_it_keeps_the_search_and_view_in_the_next_link(api: Api, alice: User, admin: User) -> None:
    for i in range(5):
        email_in(Status.DELIVERED, alice, to=f"p{i}@acme.example")
        email_in(Status.DELIVERED, alice, to=f"p{i}@other.example")
    ids, links = walk(api, admin, "/emails?folder=delivered&limit=2&q=acme&as=alice")
    assert len(ids) == 5
    assert all("q=acme" in link and "as=alice" in link for link in links)


def test_it_does_not_skip_an_email_created_between_pages(api: Api, alice: User) -> None:
    now = timezone.now()
    for i in range(4):
        email_in(Status.DELIVERED, alice, to=f"p{i}@prospect.example",
                 sort_at=now - dt.timedelta(minutes=i))  # fmt: skip
    first = api.get("/emails?folder=delivered&limit=2", alice)
    # A newer email arrives: it belongs on page one, and page two is unchanged.
    email_in(Status.DELIVERED, alice, to="new@prospect.example")
    cursor = first.headers["X-Next-Cursor"]
    second = api.get(f"/emails?folder=delivered&limit=2&cursor={cursor}", alice)
    assert [e["to"] for e in second.data] == ["p2@prospect.example", "p3@prospect.example"]


def test_it_answers_an_empty_folder_with_an_empty_list(api: Api, alice: User) -> None:
    response = api.get("/emails?folder=spam", alice)
    assert response.status_code == 200
    assert response.data == []
