"""People over the API: create, list and search, read, change, and CSV import."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api, counts
from commandcenter.people.models import Person

CSV = (
    "email,first name,company,industry\n"
    "pat@prospect.example,Pat,Acme,Robotics\n"
    "lee@x.example,Lee,,\n"
)
BAD_CSV = "email,first name\npat@prospect.example,Pat\nnot-an-address,Lee\n,Nobody\n"


def test_it_creates_a_person(api: Api, alice: User) -> None:
    custom = {"industry": "Robotics", "seats": 12}
    body = {"email": "Pat@Prospect.example", "first_name": "Pat", "company": "Acme",
            "time_zone": "Europe/Paris", "custom_fields": custom}  # fmt: skip
    response = api.post("/people", alice, body)
    assert response.status_code == 201, response.data
    assert response.data["email"] == "pat@prospect.example"
    assert response.data["custom_fields"] == {"industry": "Robotics", "seats": 12}
    assert response.data["owner"] == "alice"
    person = Person.objects.get(pk=response.data["id"])
    assert (person.owner, person.company, person.time_zone) == (alice, "Acme", "Europe/Paris")


def test_it_refuses_a_second_person_with_the_same_address(api: Api, alice: User) -> None:
    Person.objects.create(owner=alice, email="pat@prospect.example")
    before = counts()
    response = api.post("/people", alice, {"email": "PAT@prospect.example"})
    assert response.status_code == 409
    assert "already" in response.data["detail"]
    assert counts() == before


def test_it_lets_two_users_have_the_same_prospect(api: Api, alice: User, bob: User) -> None:
    assert api.post("/people", alice, {"email": "pat@prospect.example"}).status_code == 201
    assert api.post("/people", bob, {"email": "pat@prospect.example"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"email": "pat@prospect.example", "first_name": "x" * 101}, "first_name"),
        ({"email": "pat@prospect.example", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"email": "pat@prospect.example", "custom_fields": {"has space": "x"}}, "custom_fields"),
        ({"email": "pat@prospect.example", "custom_fields": {"n": "x" * 1001}}, "custom_fields"),
        ({"email": "pat@prospect.example", "custom_fields": {"n": {"deep": 1}}}, "custom_fields"),
        ({"email": "pat@prospect.example", "custom_fields": ["a"]}, "custom_fields"),
        ({"email": "pat@prospect.example", "do_not_contact": "yes"}, "do_not_contact"),
        ({"email": "pat@prospect.example", "owner": 2}, "owner"),
    ],
)
def test_it_refuses_a_bad_person(
    api: Api, alice: User, body: dict[str, object], field: str
) -> None:
    before = counts()
    response = api.post("/people", alice, body)
    assert response.status_code == 422, response.data
    assert any(name.startswith(field) for name in response.data["errors"]), response.data
    assert counts() == before


def test_it_lists_and_searches_people(api: Api, alice: User, bob: User) -> None:
    Person.objects.create(owner=alice, email="pat@acme.example", first_name="Pat")
    Person.objects.create(owner=alice, email="lee@other.example", company="ACME Corp")
    Person.objects.create(owner=alice, email="kim@other.example")
    Person.objects.create(owner=bob, email="bob-acme@acme.example")
    everyone = api.get("/people", alice)
    assert [p["email"] for p in everyone.data] == ["kim@other.example", "lee@other.example",
                                                   "pat@acme.example"]  # fmt: skip
    found = api.get("/people?q=acme", alice)
    assert sorted(p["email"] for p in found.data) == ["lee@other.example", "pat@acme.example"]


def test_it_pages_through_people_without_gaps(api: Api, alice: User) -> None:
    Person.objects.bulk_create(
        [Person(owner=alice, email=f"p{i}@prospect.example") for i in range(7)]
    )
    seen: list[int] = []
    path = "/people?limit=3"
    while True:
        response = api.get(path, alice)
        seen += [p["id"] for p in response.data]
        if "X-Next-Cursor" not in response.headers:
            break
        path = f"/people?limit=3&cursor={response.headers['X-Next-Cursor']}"
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)


def test_it_shows_and_changes_a_person(api: Api, alice: User) -> None:
    person = Person.objects.create(
        owner=alice, email="pat@prospect.example", custom_fields={"industry": "Robotics", "x": "1"}
    )
    assert api.get(f"/people/{person.pk}", alice).data["email"] == "pat@prospect.example"
    response = api.patch(f"/people/{person.pk}", alice, {
        "title": "CTO", "do_not_contact": True, "custom_fields": {"x": None, "seats": 3},
    })  # fmt: skip
    assert response.status_code == 200, response.data
    assert response.data["do_not_contact"] is True
    assert response.data["custom_fields"] == {"industry": "Robotics", "seats": 3}
    person.refresh_from_db()
    assert (person.title, person.do_not_contact) == ("CTO", True)


def test_it_stops_mail_to_a_person_marked_do_not_contact(api: Api, alice: User) -> None:
    person = api.post("/people", alice, {"email": "pat@prospect.example"}).data
    api.patch(f"/people/{person['id']}", alice, {"do_not_contact": True})
    email = api.post("/emails", alice, {"to": "pat@prospect.example", "subject": "Hi",
                                        "body_text": "Hello"})  # fmt: skip
    assert email.data["status"] == "failed"
    assert "do-not-contact" in email.data["reason"]


def test_it_refuses_a_bad_change_and_keeps_the_person(api: Api, alice: User) -> None:
    person = Person.objects.create(owner=alice, email="pat@prospect.example", first_name="Pat")
    Person.objects.create(owner=alice, email="lee@prospect.example")
    for body, status in [
        ({"email": "lee@prospect.example"}, 409),
        ({"email": None}, 422),
        ({"first_name": "x" * 500}, 422),
        ({"custom_fields": {"1bad": "x"}}, 422),
        ({"id": 5}, 422),
    ]:
        response = api.patch(f"/people/{person.pk}", alice, body)
        assert response.status_code == status, (body, response.data)
    person.refresh_from_db()
    assert (person.email, person.first_name, person.custom_fields) == (
        "pat@prospect.example", "Pat", {},
    )  # fmt: skip


def test_it_imports_a_csv_body(api: Api, alice: User) -> None:
    response = api.post("/people/import", alice, raw=CSV, content_type="text/csv")
    assert response.status_code == 200, response.data
    assert (response.data["created"], response.data["updated"]) == (2, 0)
    assert response.data["errors"] == []
    pat = Person.objects.get(owner=alice, email="pat@prospect.example")
    assert pat.custom_fields == {"industry": "Robotics"}


def test_it_imports_a_multipart_file(api: Api, client: Client, alice: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", CSV.encode(), content_type="text/csv")
    response = client.post(
        "/api/v1/people/import",
        {"file": upload},
        headers={"Authorization": f"Bearer {api.token(alice)}"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    assert Person.objects.filter(owner=alice).count() == 2


def test_it_checks_without_writing_on_a_dry_run(api: Api, alice: User) -> None:
    before = counts()
    response = api.post("/people/import?dry_run=true", alice, raw=CSV, content_type="text/csv")
    assert response.status_code == 200, response.data
    assert response.data["dry_run"] is True
    assert response.data["created"] == 2
    assert [row["email"] for row in response.data["rows"]] == ["pat@prospect.example",
                                                               "lee@x.example"]  # fmt: skip
    assert counts() == before


def test_it_imports_nothing_when_a_row_is_bad(api: Api, alice: User) -> None:
    before = counts()
    response = api.post("/people/import", alice, raw=BAD_CSV, content_type="text/csv")
    assert response.status_code == 422
    assert [error["line"] for error in response.data["errors"]] == [3, 4]
    assert "2 rows have errors" in response.data["detail"]
    assert "Nothing was imported" in response.data["detail"]
    assert counts() == before


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"   \n", "text/csv", 422),
        (b"\x00\x01\x02binary", "text/csv", 422),
        (b"name,company\nPat,Acme\n", "text/csv", 422),
        (b'email\n"unterminated\n', "text/csv", 422),
        (b"email\npat@prospect.example\n", "application/json", 415),
        (b"email\npat@prospect.example\n", "image/png", 415),
        (b"not multipart at all", "multipart/form-data; boundary=xyz", 422),
        (b"--xyz\r\nbroken", "multipart/form-data", 400),
    ],
)
def test_it_refuses_a_file_that_is_not_a_people_csv(
    api: Api, alice: User, raw: bytes, content_type: str, status: int
) -> None:
    before = counts()
    response = api.post("/people/import", alice, raw=raw, content_type=content_type)
    assert response.status_code == status, response.data
    assert response.data["detail"]
    assert counts() == before


def test_it_answers_413_for_a_csv_over_the_limit(
    api: Api, client: Client, alice: User, settings: Settings
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = "email\n" + "".join(f"p{i}@prospect.example\n" for i in range(100))
    before = counts()
    assert api.post("/people/import", alice, raw=big, content_type="text/csv").status_code == 413
    upload = SimpleUploadedFile("people.csv", big.encode(), content_type="text/csv")
    response = client.post(
        "/api/v1/people/import",
        {"file": upload},
        headers={"Authorization": f"Bearer {api.token(alice)}"},
    )
    assert response.status_code == 413
    assert counts() == before


def test_it_imports_for_a_teammate_but_not_into_a_team_view(
    api: Api, alice: User, admin: User
) -> None:
    response = api.post("/people/import?as=alice", admin, raw=CSV, content_type="text/csv")
    assert response.status_code == 200
    assert Person.objects.filter(owner=alice).count() == 2
    before = counts()
    response = api.post("/people/import?as=team:default", admin, raw=CSV,
                        content_type="text/csv")  # fmt: skip
    assert response.status_code == 403
    assert counts() == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "pat@prospect.example", "custom_fields": {"n": NaN}}',
        b'{"email": "pat@prospect.example", "custom_fields": {"n": Infinity}}',
        b'{"email": "pat@prospect.example", "custom_fields": {"n": [1, 2]}}',
        b'{"email": "pat@prospect.example", "custom_fields": {"n": "a\\u0000b"}}',
        b'{"email": "pat@prospect.example", "custom_fields": {"a\\u0000": "b"}}',
        b'{"email": "pat@prospect.example", "custom_fields": {"": "b"}}',
    ],
)
def test_it_refuses_custom_fields_no_database_can_store(api: Api, alice: User, raw: bytes) -> None:
    before = counts()
    response = api.post("/people", alice, raw=raw)
    assert response.status_code == 422, response.data
    assert any(name.startswith("custom_fields") for name in response.data["errors"])
    assert counts() == before


def test_it_refuses_a_csv_with_binary_data_deep_inside(api: Api, alice: User) -> None:
    rows = "".join(f"p{i}@prospect.example,Acme\n" for i in range(4000))
    data = f"email,company\n{rows}last@prospect.example,Ac\x00me\n".encode()
    assert len(data) > 64 * 1024
    before = counts()
    response = api.post("/people/import", alice, raw=data, content_type="text/csv")
    assert response.status_code == 422, response.data
    assert counts() == before
