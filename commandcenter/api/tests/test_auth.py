"""Tokens, tenancy and "view as": a user sees and changes only their own data."""

from __future__ import annotations

import pytest

from commandcenter.accounts.models import User
from commandcenter.accounts.services import issue_api_token
from commandcenter.api.tests.conftest import Api, counts, email_in
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Token abc",
        "Basic YWxpY2U6YWxpY2UtcGFzcw==",
        "Bearer " + "x" * 5000,
        "Bearer ÿÿÿ",
        "Bearer a\tb",
    ],
)
def test_it_answers_401_json_without_a_good_token(
    api: Api, alice: User, authorization: str | None
) -> None:
    email_in(Status.DELIVERED, alice)
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ["/folders", "/emails?folder=delivered", "/me", "/people"]:
        response = api.get(path, headers=headers)
        assert response.status_code == 401, path
        assert "Bearer" in response.data["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_writes_without_a_token_and_changes_nothing(api: Api, alice: User) -> None:
    before = counts()
    response = api.post("/emails", None, {"to": "pat@prospect.example", "subject": "Hi",
                                          "body_text": "x"})  # fmt: skip
    assert response.status_code == 401
    assert counts() == before


def test_it_refuses_a_token_of_an_inactive_user(api: Api, alice: User) -> None:
    alice.is_active = False
    alice.save()
    assert api.get("/me", alice).status_code == 401


def test_a_new_token_works_and_the_previous_one_stops_at_once(api: Api, alice: User) -> None:
    old = issue_api_token(alice)
    assert api.get("/me", headers={"Authorization": f"Bearer {old}"}).data["username"] == "alice"

    new = issue_api_token(alice)

    assert api.get("/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert api.get("/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401


def test_it_refuses_a_user_who_has_no_token_yet(api: Api, alice: User) -> None:
    assert alice.api_token_hash is None
    # The digest column is empty, so no string, not even an empty one, may find the user.
    for candidate in ["", "None", "null"]:
        assert api.get("/me", headers={"Authorization": f"Bearer {candidate}"}).status_code == 401


def test_the_stored_digest_is_not_a_token(api: Api, alice: User) -> None:
    issue_api_token(alice)
    alice.refresh_from_db()
    stolen = alice.api_token_hash
    assert stolen
    assert api.get("/me", headers={"Authorization": f"Bearer {stolen}"}).status_code == 401


def test_it_knows_each_user_by_their_token(api: Api, alice: User, bob: User) -> None:
    assert api.get("/me", alice).data["username"] == "alice"
    assert api.get("/me", bob).data["username"] == "bob"


def test_it_hides_another_users_email_as_not_found(api: Api, alice: User, bob: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    missing = api.get("/emails/999999999", bob)
    foreign = api.get(f"/emails/{email.pk}", bob)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.data["detail"] == f"No email with id {email.pk}."


@pytest.mark.parametrize(
    ("folder", "method", "suffix", "body"),
    [
        (Status.DELIVERED, "POST", "/archive", None),
        (Status.ARCHIVED, "POST", "/unarchive", None),
        (Status.FAILED, "POST", "/retry", None),
        (Status.FAILED, "DELETE", "", None),
        (Status.SCHEDULED, "PATCH", "", {"subject": "Hijacked"}),
    ],
)
def test_it_lets_no_one_act_on_another_users_email(
    api: Api, alice: User, bob: User, folder: str, method: str, suffix: str, body: object
) -> None:
    email = email_in(folder, alice)
    before = counts()
    path = f"/emails/{email.pk}{suffix}"
    response = api.call(method, path, bob) if body is None else api.call(method, path, bob, body)
    assert response.status_code == 404
    email.refresh_from_db()
    assert email.status == folder and email.subject == "Quick question"
    assert counts() == before


def test_it_keeps_lists_counts_and_batches_to_their_owner(api: Api, alice: User, bob: User) -> None:
    email_in(Status.DELIVERED, alice)
    body = {"mode": "group", "to": ["a@prospect.example"], "subject": "S", "body_text": "B"}
    batch = api.post("/emails/bulk", alice, body).data["batch"]
    assert api.get("/emails?folder=delivered", bob).data == []
    assert api.get("/folders", bob).data["delivered"] == 0
    assert api.get(f"/batches/{batch}", bob).status_code == 404
    assert api.get("/people", bob).data == []


def test_it_hides_another_users_person(api: Api, alice: User, bob: User) -> None:
    person = Person.objects.create(owner=alice, email="pat@prospect.example")
    assert api.get(f"/people/{person.pk}", bob).status_code == 404
    response = api.patch(f"/people/{person.pk}", bob, {"first_name": "Mallory"})
    assert response.status_code == 404
    person.refresh_from_db()
    assert person.first_name == ""


def test_it_lets_an_admin_view_as_a_teammate(api: Api, alice: User, admin: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    assert api.get(f"/emails/{email.pk}", admin).status_code == 404
    assert api.get(f"/emails/{email.pk}?as=alice", admin).status_code == 200
    listed = api.get("/emails?folder=delivered", admin, headers={"X-View-As": "alice"})
    assert [e["id"] for e in listed.data] == [email.pk]


def test_it_lets_an_admin_act_as_a_teammate(api: Api, alice: User, admin: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    response = api.post(f"/emails/{email.pk}/archive?as=alice", admin)
    assert response.status_code == 200
    created = api.post("/emails?as=alice", admin, {"to": "new@prospect.example",
                                                   "subject": "S", "body_text": "B"})  # fmt: skip
    assert created.status_code == 201
    assert api.get(f"/emails/{created.data['id']}", alice).status_code == 200


def test_it_refuses_view_as_to_a_non_admin(api: Api, alice: User, bob: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    response = api.get(f"/emails/{email.pk}?as=alice", bob)
    assert response.status_code == 403
    assert "alice" in response.data["detail"]
    assert api.get("/folders", bob, headers={"X-View-As": "alice"}).status_code == 403


def test_it_refuses_an_admin_of_another_team(api: Api, alice: User, carol: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    before = counts()
    assert api.get("/folders?as=alice", carol).status_code == 403
    assert api.post(f"/emails/{email.pk}/archive?as=alice", carol).status_code == 403
    assert api.get("/folders?as=team:default", carol).status_code == 403
    assert counts() == before


def test_it_answers_the_same_for_unknown_and_foreign_users(
    api: Api, alice: User, carol: User
) -> None:
    foreign = api.get("/folders?as=alice", carol)
    unknown = api.get("/folders?as=nobody", carol)
    assert foreign.status_code == unknown.status_code == 403
    assert foreign.data["detail"].replace("alice", "X") == unknown.data["detail"].replace(
        "nobody", "X"
    )


def test_it_refuses_two_different_view_as_names(api: Api, alice: User, admin: User) -> None:
    response = api.get("/folders?as=alice", admin, headers={"X-View-As": "ada"})
    assert response.status_code == 400


def test_it_gives_an_admin_a_read_only_team_view(
    api: Api, alice: User, bob: User, admin: User, carol: User
) -> None:
    email_in(Status.DELIVERED, alice)
    email_in(Status.DELIVERED, bob)
    email_in(Status.DELIVERED, carol)
    folders = api.get("/folders?as=team:default", admin)
    assert folders.status_code == 200
    assert folders.data["delivered"] == 2
    listed = api.get("/emails?folder=delivered&as=team:default", admin)
    assert {e["to"] for e in listed.data} == {"pat@prospect.example"}
    assert len(listed.data) == 2
    assert api.get("/me?as=team:default", admin).data["viewing_as"] == "team:default"
    before = counts()
    email = listed.data[0]
    assert api.post(f"/emails/{email['id']}/archive?as=team:default", admin).status_code == 403
    body = {"to": "x@prospect.example", "subject": "S", "body_text": "B"}
    response = api.post("/emails?as=team:default", admin, body)
    assert response.status_code == 403
    assert "read-only" in response.data["detail"]
    assert counts() == before


def test_it_refuses_a_team_view_to_a_non_admin(api: Api, alice: User) -> None:
    assert api.get("/folders?as=team:default", alice).status_code == 403
