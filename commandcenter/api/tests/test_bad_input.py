"""Bad input of every kind: a JSON 4xx that says what is wrong, and nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from commandcenter.accounts.models import User
from commandcenter.api.errors import text_problem
from commandcenter.api.tests.conftest import Api, counts, email_in
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status

GOOD_EMAIL = {"to": "pat@prospect.example", "subject": "Hi", "body_text": "Hello"}
GOOD_BULK = {"mode": "group", "to": ["a@prospect.example"], "subject": "Hi", "body_text": "B"}
GOOD_PERSON = {"email": "pat@prospect.example", "first_name": "Pat"}

# Values a careless or hostile client sends where a field goes.
JUNK: list[Any] = [
    None,
    0,
    -1,
    10**40,
    1.5e308,
    True,
    [],
    {},
    ["a", {"b": None}],
    "x" * 100_000,
    "\u202e\u0000",
    "\ud83d",
    "<script>alert(1)</script>",
    "2026-13-45T99:99:99+25:00",
]


def fine_text(value: Any) -> bool:
    """A value that is a fine subject and a fine body."""
    return isinstance(value, str) and len(value) < 1000 and value.isprintable() and value.isascii()


def assert_refused(response: Any, status: int | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.data
    assert isinstance(response.data["detail"], str) and response.data["detail"]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b'{"to": "pat@prospect.example",}', 400),
        (b"\xff\xfe garbage", 400),
        (b"[" * 100_000, 400),
        (b"[]", 422),
        (b"null", 422),
        (b'"a string"', 422),
        (b"", 422),
        (b'{"to": "pat@prospect.example", "subject": "Hi", "body_text": "x", "bcc": "a"}', 422),
        (b'{"to": "pat@prospect.example", "subject": "Hi\\u0000", "body_text": "x"}', 422),
        (b'{"to": "pat@prospect.example", "subject": "\\udc00", "body_text": "x"}', 422),
    ],
)
def test_it_refuses_a_malformed_body(api: Api, alice: User, raw: bytes, status: int) -> None:
    before = counts()
    assert_refused(api.post("/emails", alice, raw=raw), status)
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "good"),
    [("/emails", GOOD_EMAIL), ("/emails/bulk", GOOD_BULK), ("/people", GOOD_PERSON)],
)
def test_it_refuses_junk_in_any_field_and_writes_nothing(
    api: Api, alice: User, path: str, good: dict[str, Any]
) -> None:
    before = counts()
    for field in [*good, "send_at", "draft", "custom_fields"]:
        for junk in JUNK:
            body = good | {field: junk}
            response = api.post(path, alice, raw=json.dumps(body))
            if response.status_code == 201:
                # Some junk is a fine value for some field ("<script>" is a fine subject).
                before = counts()
                continue
            assert_refused(response)
            assert counts() == before, (path, field, junk)


def test_it_refuses_junk_in_an_edit_and_changes_nothing(api: Api, alice: User) -> None:
    email = email_in(Status.SCHEDULED, alice)
    before = counts()
    for field in ["to", "subject", "body_text", "send_at", "draft"]:
        for junk in JUNK:
            if field in {"subject", "body_text"} and fine_text(junk):
                continue
            if field == "body_text" and isinstance(junk, str) and not text_problem(junk):
                continue  # long text is a fine body
            if field == "draft" and junk is True:
                continue  # a fine way to unschedule it
            response = api.patch(f"/emails/{email.pk}", alice, raw=json.dumps({field: junk}))
            assert_refused(response)
    email.refresh_from_db()
    assert (email.subject, email.body_text, email.status) == ("Quick question", "Hello",
                                                              Status.SCHEDULED)  # fmt: skip
    assert counts() == before


def test_it_names_the_field_and_the_problem(api: Api, alice: User) -> None:
    response = api.post("/emails", alice, {"to": 5, "subject": None})
    assert response.status_code == 422
    assert set(response.data["errors"]) == {"to", "subject"}
    assert "to:" in response.data["detail"] and "subject:" in response.data["detail"]


def test_it_answers_422_for_a_compose_rule(api: Api, alice: User) -> None:
    before = counts()
    response = api.post("/emails", alice, {"to": "pat@prospect.example", "subject": "a\nb",
                                           "body_text": ""})  # fmt: skip
    assert_refused(response, 422)
    assert set(response.data["errors"]) == {"subject", "body_text"}
    assert counts() == before


def test_it_refuses_a_send_time_without_offset_or_in_the_past(api: Api, alice: User) -> None:
    before = counts()
    for when in ["2030-01-01T09:00:00", "2001-01-01T09:00:00+00:00", 1893456000, "soon",
                 "9999-12-31T23:59:59-14:00"]:  # fmt: skip
        response = api.post("/emails", alice, GOOD_EMAIL | {"send_at": when})
        assert_refused(response, 422)
        assert "send_at" in response.data["errors"]
    assert counts() == before


def test_it_refuses_1001_group_recipients(api: Api, alice: User) -> None:
    before = counts()
    to = [f"p{i}@prospect.example" for i in range(1001)]
    response = api.post("/emails/bulk", alice, GOOD_BULK | {"to": to})
    assert_refused(response, 422)
    assert "1,000" in response.data["errors"]["to"]
    assert counts() == before


def test_it_refuses_201_select_and_send_recipients(api: Api, alice: User) -> None:
    before = counts()
    to = [f"p{i}@prospect.example" for i in range(201)]
    body = GOOD_BULK | {"mode": "select_and_send", "to": to}
    response = api.post("/emails/bulk", alice, body)
    assert_refused(response, 422)
    assert "200" in response.data["errors"]["to"]
    assert counts() == before


def test_it_refuses_a_bulk_with_one_bad_recipient_entirely(api: Api, alice: User) -> None:
    before = counts()
    body = GOOD_BULK | {"to": ["a@prospect.example", "nope", "a@prospect.example"]}
    response = api.post("/emails/bulk", alice, body)
    assert_refused(response, 422)
    assert set(response.data["errors"]) == {"to[1]", "to[2]"}
    assert counts() == before


def test_it_refuses_a_bulk_draft_and_per_recipient_content_in_a_group(
    api: Api, alice: User
) -> None:
    before = counts()
    assert_refused(api.post("/emails/bulk", alice, GOOD_BULK | {"draft": True}), 422)
    body = GOOD_BULK | {"to": [{"to": "a@prospect.example", "subject": "Own"}]}
    assert_refused(api.post("/emails/bulk", alice, body), 422)
    assert_refused(api.post("/emails/bulk", alice, GOOD_BULK | {"mode": "blast"}), 422)
    assert counts() == before


def test_it_answers_413_for_a_body_over_the_limit(
    api: Api, alice: User, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = counts()
    body = GOOD_EMAIL | {"body_text": "x" * 20_000}
    response = api.post("/emails", alice, body)
    assert_refused(response, 413)
    assert "10,000" in response.data["detail"]
    email = email_in(Status.SCHEDULED, alice)
    before = counts()
    assert_refused(api.patch(f"/emails/{email.pk}", alice, {"body_text": "y" * 20_000}), 413)
    assert counts() == before


@pytest.mark.parametrize(
    "query",
    [
        "",
        "folder=",
        "folder=inbox",
        "folder=deleted",
        "folder=delivered&limit=0",
        "folder=delivered&limit=-5",
        "folder=delivered&limit=201",
        "folder=delivered&limit=ten",
        "folder=delivered&q=" + "x" * 201,
        "folder=delivered&q=%00",
    ],
)
def test_it_refuses_bad_list_parameters(api: Api, alice: User, query: str) -> None:
    assert_refused(api.get(f"/emails?{query}", alice), 422)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%00",
        "W10",  # []
        "WyJub3QgYSB0aW1lIiwgMV0",  # ["not a time", 1]
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgMV0",  # a time without an offset
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgSW5maW5pdHld",  # id Infinity
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgMWUzMF0",  # id 1e30
    ],
)
def test_it_answers_400_for_a_bad_cursor(api: Api, alice: User, cursor: str) -> None:
    email_in(Status.DELIVERED, alice)
    response = api.get(f"/emails?folder=delivered&cursor={cursor}", alice)
    assert response.status_code in (400, 422), response.data
    assert response.data["detail"]
    assert_refused(api.get(f"/people?cursor={cursor}", alice))


@pytest.mark.parametrize(
    "path",
    [
        "/emails/0",
        "/emails/-1",
        "/emails/999999999",
        "/emails/99999999999999999999999999999",
        "/batches/999999999",
        "/batches/99999999999999999999999999999",
        "/people/99999999999999999999999999999",
    ],
)
def test_it_answers_404_for_unknown_ids(api: Api, alice: User, path: str) -> None:
    assert_refused(api.get(path, alice), 404)


def test_it_answers_404_for_actions_on_unknown_ids(api: Api, alice: User) -> None:
    before = counts()
    for action in ["archive", "unarchive", "retry"]:
        assert_refused(api.post(f"/emails/424242/{action}", alice), 404)
    assert_refused(api.delete("/emails/424242", alice), 404)
    assert_refused(api.patch("/emails/424242", alice, {"subject": "x"}), 404)
    assert counts() == before


def test_it_answers_422_for_ids_that_are_not_numbers(api: Api, alice: User) -> None:
    response = api.get("/emails/abc", alice)
    assert_refused(response, 422)
    assert set(response.data["errors"]) == {"id"}


def test_it_answers_json_for_unknown_routes_and_methods(api: Api, alice: User) -> None:
    assert_refused(api.get("/nowhere", alice), 404)
    assert_refused(api.post("/nowhere/at/all", alice, {}), 404)
    response = api.call("PUT", "/emails", alice)
    assert_refused(response, 405)
    assert "POST" in response.headers["Allow"]


def test_it_refuses_nulls_in_an_edit(api: Api, alice: User) -> None:
    email = email_in(Status.SCHEDULED, alice)
    response = api.patch(f"/emails/{email.pk}", alice, {"subject": None, "draft": None})
    assert_refused(response, 422)
    assert set(response.data["errors"]) == {"subject", "draft"}


def test_it_refuses_to_make_a_bulk_email_a_draft(api: Api, alice: User) -> None:
    created = api.post("/emails/bulk", alice, GOOD_BULK)
    email_id = created.data["emails"][0]["id"]
    before = counts()
    response = api.patch(f"/emails/{email_id}", alice, {"draft": True})
    assert_refused(response, 422)
    assert counts() == before
    assert Email.objects.get(pk=email_id).status == Status.SCHEDULED


def test_it_keeps_html_in_subjects_as_text(api: Api, alice: User) -> None:
    subject = "<script>alert(1)</script> & more"
    created = api.post("/emails", alice, GOOD_EMAIL | {"subject": subject})
    assert created.status_code == 201
    assert api.get(f"/emails/{created.data['id']}", alice).data["subject"] == subject
    assert created.headers["Content-Type"].startswith("application/json")


def test_it_takes_unicode_everywhere_it_is_text(api: Api, alice: User) -> None:
    body = {"to": "zoe@bücher.example", "subject": "Grüße 👋",
            "body_text": "你好 {{company | 贵公司}}"}  # fmt: skip
    response = api.post("/emails", alice, body)
    assert response.status_code == 201, response.data
    shown = api.get(f"/emails/{response.data['id']}", alice).data
    assert (shown["to"], shown["subject"], shown["body_text"]) == (
        "zoe@bücher.example", "Grüße 👋", "你好 贵公司",
    )  # fmt: skip
    assert shown["template"]["body_text"] == "你好 {{company | 贵公司}}"


def test_it_refuses_an_address_it_cannot_send_to(api: Api, alice: User) -> None:
    before = counts()
    for address in ["zoë@example.com", "pat@", "@prospect.example", "a" * 300 + "@x.example",
                    "pat@prospect.example\nBcc: victim@x.example"]:  # fmt: skip
        response = api.post("/emails", alice, GOOD_EMAIL | {"to": address})
        assert_refused(response, 422)
        assert "to" in response.data["errors"]
    assert counts() == before


def test_it_does_not_write_a_refused_edit_half_way(api: Api, alice: User) -> None:
    email = email_in(Status.SCHEDULED, alice, send_at=timezone.now())
    response = api.patch(f"/emails/{email.pk}", alice, {"subject": "New", "to": "bad"})
    assert_refused(response, 422)
    email.refresh_from_db()
    assert email.subject == "Quick question"


def test_it_refuses_too_many_query_parameters(api: Api, alice: User) -> None:
    query = "&".join(f"p{i}=1" for i in range(1500))
    assert_refused(api.get(f"/folders?{query}", alice), 400)
