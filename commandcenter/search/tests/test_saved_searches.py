"""Saved searches: CRUD with counts, sharing across users and teams, and live membership as
tracking hits land through the real endpoints."""

from __future__ import annotations

import pytest
from django.test import Client

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.search.models import FeedItem, Member, SavedSearch
from commandcenter.search.tests.conftest import email_in, engaged, streamed, token_of
from commandcenter.search.tests.test_search_api import VIEWED_CLICKED_NO_REPLY
from commandcenter.signals.apply import apply_inbound
from commandcenter.signals.tests.factories import mail
from commandcenter.tracking.hits import drain
from commandcenter.tracking.tests.conftest import delivered_email
from commandcenter.tracking.tests.test_endpoints import click_paths

CLICKED = {"all": [{"field": "clicks", "op": "gte", "value": 1}]}


def save(api: Api, user: User, name: str, document: object = CLICKED, **more: object) -> dict:
    answer = api.post("/saved-searches", user, {"name": name, "filter": document, **more})
    assert answer.status_code == 201, answer.data
    return answer.data


def test_it_saves_lists_renames_and_deletes_with_current_counts(api: Api, alice: User) -> None:
    engaged(alice, "a@a.example", clicks=1)
    created = save(api, alice, "Clicked")
    assert created["count"] == 1
    assert created["filter"]["v"] == 1
    engaged(alice, "b@a.example", clicks=2)
    (listed,) = api.get("/saved-searches", alice).data
    assert (listed["name"], listed["count"]) == ("Clicked", 2)
    renamed = api.patch(f"/saved-searches/{created['id']}", alice, {"name": "Hot"})
    assert renamed.status_code == 200
    assert api.get(f"/saved-searches/{created['id']}", alice).data["name"] == "Hot"
    changed = api.patch(
        f"/saved-searches/{created['id']}",
        alice,
        {"filter": {"all": [{"field": "clicks", "op": "gte", "value": 2}]}},
    )
    assert changed.data["count"] == 1
    assert api.delete(f"/saved-searches/{created['id']}", alice).status_code == 204
    assert api.get(f"/saved-searches/{created['id']}", alice).status_code == 404
    assert SavedSearch.objects.count() == 0


def test_its_results_page_by_cursor_and_mark_what_joined_since_the_last_look(
    api: Api, alice: User
) -> None:
    for number in range(3):
        engaged(alice, f"p{number}@a.example", clicks=1)
    created = save(api, alice, "Clicked")
    first = api.get(f"/saved-searches/{created['id']}/results?limit=2", alice).data
    assert first["total"] == 3 and len(first["results"]) == 2 and first["new"] == []
    rest = api.get(
        f"/saved-searches/{created['id']}/results?limit=2&cursor={first['next_cursor']}", alice
    ).data
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None
    later = engaged(alice, "later@a.example", clicks=1)
    looked = api.get(f"/saved-searches/{created['id']}/results", alice).data
    assert looked["new"] == [later.pk]
    again = api.get(f"/saved-searches/{created['id']}/results", alice).data
    assert again["new"] == []


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"name": "", "filter": CLICKED}, "name", 422),
        (
            {"name": "x", "filter": {"all": [{"field": "nope", "op": "eq", "value": 1}]}},
            "filter.all[0].field",
            400,
        ),
        ({"name": "x", "filter": CLICKED, "sort": "loudest"}, "sort", 422),
        ({"name": "x", "filter": CLICKED, "colour": "red"}, "colour", 422),
        (
            {"name": "x", "filter": {"all": [{"field": "owner", "op": "eq", "value": "carol"}]}},
            "filter.all[0].value",
            400,
        ),
    ],
)
def test_bad_saved_searches_are_refused_naming_the_field(api, alice, carol, body, field, status):
    answer = api.post("/saved-searches", alice, body)
    assert answer.status_code == status, answer.data
    assert field in answer.data["errors"], answer.data
    assert SavedSearch.objects.count() == 0


def test_a_duplicate_name_is_refused(api: Api, alice: User) -> None:
    save(api, alice, "Clicked")
    answer = api.post("/saved-searches", alice, {"name": "Clicked", "filter": CLICKED})
    assert answer.status_code == 422
    assert "name" in answer.data["errors"]


def test_a_search_is_private_until_shared_and_a_teammate_sees_only_their_own_emails(
    api: Api, alice: User, bob: User, carol: User
) -> None:
    engaged(alice, "alices@a.example", clicks=1)
    engaged(bob, "bobs@b.example", clicks=1)
    engaged(carol, "carols@c.example", clicks=1)
    created = save(api, alice, "Clicked")
    path = f"/saved-searches/{created['id']}"
    assert api.get(path, bob).status_code == 404
    assert api.get(f"{path}/results", bob).status_code == 404
    api.patch(path, alice, {"shared": True})
    seen_by_bob = api.get(f"{path}/results", bob).data
    assert [row["to"] for row in seen_by_bob["results"]] == ["bobs@b.example"]
    assert api.get(path, bob).data["count"] == 1
    assert [row["to"] for row in api.get(f"{path}/results", alice).data["results"]] == [
        "alices@a.example"
    ]
    # Another team never sees it, shared or not.
    assert api.get(path, carol).status_code == 404
    assert all(s["id"] != created["id"] for s in api.get("/saved-searches", carol).data)
    # Only the owner changes or deletes it.
    assert api.patch(path, bob, {"name": "Mine now"}).status_code == 403
    assert api.delete(path, bob).status_code == 403
    assert SavedSearch.objects.get().name == "Clicked"


def test_an_admins_shared_search_shows_a_rep_only_the_reps_emails(
    api: Api, admin: User, alice: User, bob: User
) -> None:
    engaged(alice, "alices@a.example", clicks=1)
    engaged(bob, "bobs@b.example", clicks=1)
    created = save(api, admin, "Team clicks", shared=True)
    assert created["count"] == 2
    rows = api.get(f"/saved-searches/{created['id']}/results", bob).data["results"]
    assert [row["to"] for row in rows] == ["bobs@b.example"]
    export = api.client.get(
        f"/api/v1/saved-searches/{created['id']}/export",
        headers={"Authorization": f"Bearer {token_of(bob)}"},
    )
    lines = streamed(export).decode().splitlines()
    assert len(lines) == 2 and "bobs@b.example" in lines[1]


def test_an_email_joins_as_the_click_lands_and_leaves_when_a_reply_comes(
    api: Api, client: Client, alice: User
) -> None:
    email = delivered_email(alice)
    other = delivered_email(alice, to="sam@example.org")
    created = save(api, alice, "Viewed and clicked, no reply", VIEWED_CLICKED_NO_REPLY)
    assert created["count"] == 0
    client.get(f"/t/o/{email.token}.gif")
    client.get(click_paths(email)[0])
    client.get(f"/t/o/{other.token}.gif")  # viewed only: stays out
    assert drain() == 3
    results = api.get(f"/saved-searches/{created['id']}/results", alice).data
    assert [row["id"] for row in results["results"]] == [email.pk]
    assert results["new"] == [email.pk]
    assert list(FeedItem.objects.values_list("email_id", "kind")) == [(email.pk, "joined")]
    assert Member.objects.filter(search_id=created["id"]).count() == 1

    reply = mail(
        f"""
From: Pat <pat@example.org>
To: alice@example.com
Subject: Re: Pricing
Message-ID: <reply-1@example.org>
In-Reply-To: {email.message_id or "<none@x>"}
""",
        "Yes, let's talk.",
    )
    if not email.message_id:
        Email.objects.filter(pk=email.pk).update(message_id="<sent-x@cc.example.net>")
        reply = reply.replace(b"<none@x>", b"<sent-x@cc.example.net>")
    apply_inbound(reply, source="test")
    assert api.get(f"/saved-searches/{created['id']}", alice).data["count"] == 0
    assert FeedItem.objects.filter(kind="left", email=email).exists()
    assert not Member.objects.filter(search_id=created["id"]).exists()


def test_a_machine_click_does_not_make_an_email_join(api: Api, client: Client, alice: User) -> None:
    email = delivered_email(alice)
    created = save(api, alice, "Clicked")
    scanner = Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel)")
    scanner.head(click_paths(email)[0])
    drain()
    assert api.get(f"/saved-searches/{created['id']}", alice).data["count"] == 0
    assert not FeedItem.objects.exists()


def test_teammates_signals_update_a_shared_search(api: Api, client: Client, alice, bob) -> None:
    created = save(api, alice, "Clicked", shared=True)
    email = delivered_email(bob, to="bobs@example.org")
    client.get(click_paths(email)[0])
    drain()
    assert FeedItem.objects.filter(search_id=created["id"], email=email, kind="joined").exists()
    rows = api.get(f"/saved-searches/{created['id']}/results", bob).data["results"]
    assert [row["id"] for row in rows] == [email.pk]
    assert api.get(f"/saved-searches/{created['id']}/results", alice).data["results"] == []


def test_an_undelivered_email_is_found_by_its_reason(api: Api, alice: User) -> None:
    email_in(Status.BOUNCED, alice, to="gone@a.example", reason="userunknown: 550 5.1.1")
    created = save(
        api,
        alice,
        "Unknown users",
        {
            "all": [
                {"field": "status", "op": "in", "value": ["bounced", "failed"]},
                {"field": "reason", "op": "contains", "value": "userunknown"},
            ]
        },
    )
    assert created["count"] == 1


def test_the_sidebar_counts_in_one_pass_agree_with_each_count(api: Api, alice, bob) -> None:
    from commandcenter.search import saved as saved_searches

    engaged(alice, "a@a.example", opens=2, clicks=1)
    engaged(alice, "a@a.example", opens=1)
    engaged(alice, "b@b.example", replies=1)
    engaged(bob, "c@c.example", clicks=1)
    made = [
        save(api, alice, "Clicked"),
        save(
            api,
            alice,
            "Viewed people",
            {"all": [{"field": "opens", "op": "gte", "value": 1}]},
            results="people",
        ),
        save(api, alice, "Words", {"all": [{"field": "text", "op": "contains", "value": "hello"}]}),
        save(api, bob, "Team clicked", shared=True),
    ]
    searches = list(SavedSearch.objects.filter(pk__in=[m["id"] for m in made]))
    together = saved_searches.counts(searches, alice)
    one_by_one = {s.pk: saved_searches.current_count(s, alice) for s in searches}
    assert together == one_by_one
    assert sorted(together.values()) == [1, 1, 1, 3]


def test_sidebar_counts_by_index_alone_agree_with_the_shared_pass(alice: User, bob: User) -> None:
    """Status-only filters (and on SQLite word searches) are counted by their own query
    (query.py _counted_alone); negated or OR-ed words, and everything else, in the shared
    pass. Each number is what that filter finds, whichever way it was counted."""
    from commandcenter.search import saved as saved_searches

    engaged(alice, "a@a.example", opens=1, subject="Pricing plans")
    engaged(alice, "b@b.example", clicks=1, subject="Pricing for you")
    email_in(Status.BOUNCED, alice, to="c@c.example", subject="Pricing again")
    email_in(Status.DELETED, alice, to="d@d.example", subject="Pricing deleted")
    email_in(Status.BOUNCED, bob, to="e@e.example", subject="Pricing of bob")
    pricing = {"field": "text", "op": "contains", "value": "pricing"}
    documents: dict[str, tuple[dict, str, int]] = {
        "bounced": ({"all": [{"field": "status", "op": "eq", "value": "bounced"}]}, "emails", 1),
        "not deleted": ({"not": {"field": "status", "op": "eq", "value": "bounced"}}, "emails", 2),
        "words": ({"all": [pricing]}, "emails", 3),
        "words as people": ({"all": [pricing]}, "people", 3),
        "words and opened": (
            {"all": [pricing, {"field": "opens", "op": "gte", "value": 1}]},
            "emails",
            1,
        ),
        "no words": ({"all": [{"not": pricing}]}, "emails", 0),
        "words or clicked": (
            {"any": [pricing, {"field": "clicks", "op": "gte", "value": 1}]},
            "emails",
            3,
        ),
        "bounced words": (
            {"all": [pricing, {"field": "status", "op": "in", "value": ["bounced", "spam"]}]},
            "emails",
            1,
        ),
    }
    searches = [
        SavedSearch.objects.create(owner=alice, name=name, filter={"v": 1, **doc}, results=results)
        for name, (doc, results, _) in documents.items()
    ]
    together = saved_searches.counts(searches, alice)
    by_name = {s.name: together[s.pk] for s in searches}
    assert by_name == {name: expected for name, (_, _, expected) in documents.items()}
    assert together == {s.pk: saved_searches.current_count(s, alice) for s in searches}
