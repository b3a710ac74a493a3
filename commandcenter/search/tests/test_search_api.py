"""POST /api/v1/search and the filter schema: what filters find, pages, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.search.tests.conftest import email_in, engaged, streamed, token_of

VIEWED_CLICKED_NO_REPLY = {
    "v": 1,
    "all": [
        {"field": "opens", "op": "gte", "value": 1},
        {"field": "clicks", "op": "gte", "value": 1},
        {"not": {"field": "replies", "op": "gte", "value": 1}},
    ],
}


def found(api: Api, user: User, document: object, **more: object) -> list[str]:
    answer = api.post("/search", user, {"filter": document, **more})
    assert answer.status_code == 200, answer.data
    key = "latest_email" if more.get("results") == "people" else None
    rows = answer.data["results"]
    return sorted((row[key] if key else row)["to"] for row in rows)


@pytest.fixture
def outbox(alice: User) -> dict[str, Email]:
    return {
        "viewed": engaged(alice, "viewed@a.example", opens=2),
        "clicked": engaged(alice, "clicked@b.example", opens=1, clicks=1),
        "replied": engaged(alice, "replied@c.example", opens=1, clicks=2, replies=1),
        "machine": engaged(alice, "machine@a.example", machine_opens=3),
        "bounced": email_in(Status.BOUNCED, alice, to="gone@d.example"),
        "draft": email_in(Status.DRAFT, alice, to="later@a.example", subject="Pricing plans"),
    }


def test_it_finds_the_seeds_example_viewed_and_clicked_but_did_not_reply(api, alice, outbox):
    assert found(api, alice, VIEWED_CLICKED_NO_REPLY) == ["clicked@b.example"]


def test_it_counts_human_engagement_unless_machine_is_asked_for(api, alice, outbox):
    human = {"all": [{"field": "opens", "op": "gte", "value": 1}]}
    assert "machine@a.example" not in found(api, alice, human)
    machine = {"all": [{"field": "opens", "op": "gte", "value": 3, "include_machine": True}]}
    assert found(api, alice, machine) == ["machine@a.example"]


def test_it_applies_thresholds_and_any_groups(api, alice, outbox):
    at_least_two = {"all": [{"field": "opens", "op": "gte", "value": 2}]}
    assert found(api, alice, at_least_two) == ["viewed@a.example"]
    either = {
        "any": [
            {"field": "status", "op": "eq", "value": "bounced"},
            {"field": "clicks", "op": "between", "value": [2, 5]},
        ]
    }
    assert found(api, alice, either) == ["gone@d.example", "replied@c.example"]


def test_it_counts_only_engagement_within_n_days_of_delivery(api, alice):
    sent = timezone.now() - dt.timedelta(days=10)
    early = email_in(Status.DELIVERED, alice, to="early@a.example", sent_at=sent, opens=1)
    late = email_in(Status.DELIVERED, alice, to="late@a.example", sent_at=sent, opens=1)
    Event.objects.create(email=early, kind="opened", data={}, created_at=sent + dt.timedelta(1))
    Event.objects.create(email=late, kind="opened", data={}, created_at=sent + dt.timedelta(5))
    within = {"all": [{"field": "opens", "op": "gte", "value": 1, "within_days": 3}]}
    assert found(api, alice, within) == ["early@a.example"]
    none_within = {"all": [{"field": "opens", "op": "eq", "value": 0, "within_days": 3}]}
    assert found(api, alice, none_within) == ["late@a.example"]


def test_it_searches_words_of_subject_and_body(api, alice, outbox):
    words = {"all": [{"field": "text", "op": "contains", "value": "pricing PLANS"}]}
    assert found(api, alice, words) == ["later@a.example"]
    assert found(api, alice, {"all": [{"field": "text", "op": "contains", "value": "nope"}]}) == []


def test_word_search_never_matches_the_owners_own_token(api, alice, bob):
    """The word index holds a token for each email's owner (fulltext.py): no word a user
    types is that token, so searching for it finds only emails with that word."""
    email_in(Status.DELIVERED, alice, to="plain@a.example", body_text="Hello there")
    email_in(Status.DELIVERED, alice, to="number@a.example", body_text=f"Ticket {alice.pk}")
    # "o42" was the token once; "@42" is the word "42" (words are runs of word characters).
    for text, expected in (
        (f"o{alice.pk}", []),
        (f"@{alice.pk}", ["number@a.example"]),
        (f"{alice.pk}", ["number@a.example"]),
    ):
        document = {"all": [{"field": "text", "op": "contains", "value": text}]}
        assert found(api, alice, document) == expected, text
    email_in(Status.DELIVERED, bob, to="bobs@b.example", body_text="Hello there")
    hello = {"all": [{"field": "text", "op": "contains", "value": "hello"}]}
    assert found(api, alice, hello) == ["plain@a.example"]


def test_it_matches_recipient_domain_and_company(api, alice, outbox):
    assert found(api, alice, {"all": [{"field": "domain", "op": "eq", "value": "a.example"}]}) == [
        "later@a.example",
        "machine@a.example",
        "viewed@a.example",
    ]
    contains = {"all": [{"field": "to", "op": "contains", "value": "CLICK"}]}
    assert found(api, alice, contains) == ["clicked@b.example"]


def test_it_dates_by_presets_and_ranges(api, alice, outbox):
    old = email_in(
        Status.DELIVERED, alice, to="old@a.example", sent_at=timezone.now() - dt.timedelta(days=40)
    )
    recent = {"all": [{"field": "delivered_at", "op": "within", "value": "last_30_days"}]}
    assert old.to_address not in found(api, alice, recent)
    day = (timezone.now() - dt.timedelta(days=40)).date().isoformat()
    on_day = {"all": [{"field": "delivered_at", "op": "eq", "value": day}]}
    assert found(api, alice, on_day) == ["old@a.example"]


def test_it_gives_people_one_row_each_with_their_latest_email(api, alice):
    first = engaged(alice, "pat@a.example", opens=1, subject="First")
    latest = engaged(alice, "pat@a.example", opens=1, subject="Second")
    engaged(alice, "sam@b.example", opens=1)
    answer = api.post(
        "/search",
        alice,
        {"filter": {"all": [{"field": "opens", "op": "gte", "value": 1}]}, "results": "people"},
    )
    assert answer.data["total"] == 2
    rows = {row["person"]["email"]: row for row in answer.data["results"]}
    assert rows["pat@a.example"]["emails"] == 2
    assert rows["pat@a.example"]["latest_email"]["id"] == latest.pk != first.pk


def test_it_pages_by_cursor_with_the_total(api, alice):
    for number in range(7):
        engaged(alice, f"p{number}@a.example", opens=number)
    seen: list[int] = []
    cursor = None
    while True:
        body = {"filter": {}, "sort": "most_engaged", "limit": 3}
        if cursor:
            body["cursor"] = cursor
        answer = api.post("/search", alice, body)
        assert answer.status_code == 200, answer.data
        assert answer.data["total"] == 7
        seen += [row["opens"] for row in answer.data["results"]]
        cursor = answer.data["next_cursor"]
        if cursor is None:
            break
    assert seen == [6, 5, 4, 3, 2, 1, 0]


def test_it_shows_only_the_callers_emails(api, alice, bob, outbox):
    engaged(bob, "bobs@a.example", opens=1, clicks=1)
    assert "bobs@a.example" not in found(api, alice, {})
    assert found(api, bob, VIEWED_CLICKED_NO_REPLY) == ["bobs@a.example"]
    named = {"all": [{"field": "owner", "op": "eq", "value": "bob"}]}
    answer = api.post("/search", alice, {"filter": named})
    assert answer.status_code == 400
    assert "owner" in answer.data["detail"]


def test_an_admin_searches_a_teammate_by_owner(api, admin, alice, bob, outbox):
    engaged(bob, "bobs@a.example", opens=1, clicks=1)
    team = api.post(
        f"/search?as=team:{admin.team.name}",
        admin,
        {"filter": {"all": [{"field": "owner", "op": "eq", "value": "bob"}]}},
    )
    assert [row["to"] for row in team.data["results"]] == ["bobs@a.example"]


@pytest.mark.parametrize(
    ("document", "where", "why"),
    [
        ({"all": [{"field": "color", "op": "eq", "value": 1}]}, "filter.all[0].field", "Unknown"),
        ({"all": [{"field": "opens", "op": "like", "value": 1}]}, "filter.all[0].op", "opens"),
        ({"all": [{"field": "opens", "op": "gte", "value": "x"}]}, "filter.all[0].value", "whole"),
        ({"all": [{"field": "opens", "op": "gte", "value": -1}]}, "filter.all[0].value", "from 0"),
        ({"all": [{"field": "opens", "op": "gte"}]}, "filter.all[0].value", "required"),
        (
            {"any": [{"not": {"field": "status", "op": "eq", "value": "lost"}}]},
            "filter.any[0].not.value",
            "status",
        ),
        (
            {"all": [{"field": "delivered_at", "op": "gte", "value": "yesterday-ish"}]},
            "filter.all[0].value",
            "date",
        ),
        (
            {"all": [{"field": "opens", "op": "gte", "value": 1, "within_days": 0}]},
            "filter.all[0].value",
            "within_days",
        ),
        (
            {"all": [{"field": "clicks", "op": "gte", "value": 1, "colour": 1}]},
            "filter.all[0].colour",
            "unknown key",
        ),
        (
            {"all": [{"field": "text", "op": "contains", "value": "!!!"}]},
            "filter.all[0].value",
            "word",
        ),
        ({"all": {"field": "opens"}}, "filter.all", "list"),
        ({"v": 2, "all": []}, "filter.v", "version"),
        ({"all": [], "any": []}, "filter", "only the key"),
        ("not json", "filter", "JSON"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field_and_why(api, alice, document, where, why):
    answer = api.post("/search", alice, {"filter": document})
    assert answer.status_code == 400, answer.data
    assert where in answer.data["errors"], answer.data
    assert why.lower() in answer.data["errors"][where].lower()


def test_a_bad_cursor_or_sort_is_a_400(api, alice, outbox):
    assert api.post("/search", alice, {"cursor": "bm9wZQ"}).status_code == 400
    other = api.post("/search", alice, {"sort": "oldest", "limit": 1}).data["next_cursor"]
    answer = api.post("/search", alice, {"sort": "newest", "cursor": other})
    assert answer.status_code == 400
    assert "cursor" in answer.data["errors"]
    assert "sort" in api.post("/search", alice, {"sort": "loudest"}).data["errors"]


INJECTIONS = [
    "'; DROP TABLE outbox_email; --",
    '" OR 1=1 --',
    "100%_off",
    "NEAR(a b) OR *",
    "<script>alert(1)</script>",
    "\\x' || '",
]


@pytest.mark.parametrize("text", INJECTIONS)
@pytest.mark.parametrize(
    ("field", "column"),
    [
        ("subject", "subject"),
        ("to", "to_address"),
        ("company", "company"),
        ("reason", "reason"),
        ("title", "title"),
        ("first_name", "first_name"),
    ],
)
def test_injection_strings_find_what_they_literally_say(api, alice, text, field, column):
    from commandcenter.people.services import people_by_address

    person = people_by_address(alice, ["lit@a.example"])["lit@a.example"]
    if column in {"company", "title", "first_name"}:
        setattr(person, column, text)
        person.save()
    values = {column: text} if column in {"subject", "reason"} else {}
    to = "lit@a.example"
    email_in(Status.DELIVERED, alice, to=to, **values)
    email_in(Status.DELIVERED, alice, to="other@a.example", subject="100 off", reason="plain")
    if field == "to":
        # An address cannot hold most of these; the search must still just find nothing.
        assert found(api, alice, {"all": [{"field": "to", "op": "contains", "value": text}]}) == []
        return
    for op in ("eq", "contains"):
        document = {"all": [{"field": field, "op": op, "value": text}]}
        assert found(api, alice, document) == [to]
    assert Email.objects.count() == 2


@pytest.mark.parametrize("text", INJECTIONS)
def test_word_search_with_injection_strings_finds_the_words(api, alice, text):
    email_in(Status.DELIVERED, alice, to="lit@a.example", subject=f"About {text} today")
    email_in(Status.DELIVERED, alice, to="other@a.example", subject="Nothing like it")
    answer = api.post(
        "/search", alice, {"filter": {"all": [{"field": "text", "op": "contains", "value": text}]}}
    )
    assert answer.status_code == 200, answer.data
    assert [row["to"] for row in answer.data["results"]] == ["lit@a.example"]


def test_the_schema_lists_every_field_and_operator(api, alice):
    answer = api.get("/search/schema", alice)
    assert answer.status_code == 200
    conditions = answer.data["$defs"]["node"]["oneOf"][3:]
    names = {item["properties"]["field"]["const"] for item in conditions}
    assert {
        "status",
        "opens",
        "clicks",
        "replies",
        "created_at",
        "delivered_at",
        "failed_at",
        "send_at",
        "to",
        "company",
        "domain",
        "subject",
        "text",
        "owner",
    } <= names
    assert {"eq", "ne", "gte", "lte", "in", "contains", "between"} <= set(
        answer.data["x-operators"]
    )


def csv_of(api: Api, user: User, body: dict) -> list[str]:
    """The streamed CSV's lines."""
    response = api.client.post(
        "/api/v1/search/export",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_of(user)}"},
    )
    assert response.status_code == 200
    assert response.streaming
    return streamed(response).decode().splitlines()


def test_export_streams_every_column_of_all_results_or_a_selection(api, alice, outbox):
    lines = csv_of(api, alice, {"filter": {"all": [{"field": "opens", "op": "gte", "value": 1}]}})
    assert lines[0].startswith("id,status,reason,to,first_name")
    assert len(lines) == 4
    rows = csv_of(api, alice, {"ids": [outbox["clicked"].pk]})
    assert len(rows) == 2 and "clicked@b.example" in rows[1]
    bad = api.post("/search/export", alice, {"filter": {"all": [{"field": "x"}]}})
    assert bad.status_code == 400


def test_export_defuses_spreadsheet_formulas(api, alice):
    email_in(Status.DELIVERED, alice, to="f@a.example", subject='=HYPERLINK("http://x")')
    rows = csv_of(api, alice, {})
    assert "'=HYPERLINK" in rows[1]


def test_search_needs_a_token(api):
    assert api.post("/search", None, {}).status_code == 401
