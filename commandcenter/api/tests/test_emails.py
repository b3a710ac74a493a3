"""The email routes of DESIGN §4, each on its happy path and where the folder says no."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.api.tests.conftest import Api, counts, email_in
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import FOLDERS, Status
from commandcenter.people.models import Person, Suppression

EMAIL_FIELDS = {
    "id", "status", "reason", "to", "subject", "body_text", "body_html", "send_at", "sent_at",
    "failed_at", "created_at", "updated_at", "message_id", "batch", "person", "attempts",
    "last_error", "next_attempt_at", "opens", "clicks", "replies", "actions", "template",
    "campaign", "step", "variant",
}  # fmt: skip


def later(hours: int = 2) -> str:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(microsecond=0).isoformat()


def test_it_sends_one_email_now(api: Api, alice: User) -> None:
    response = api.post(
        "/emails", alice, {"to": "Pat@Prospect.example", "subject": "Hi", "body_text": "Hello"}
    )
    assert response.status_code == 201, response.data
    assert set(response.data) == EMAIL_FIELDS
    assert response.data["status"] == "scheduled"
    assert response.data["to"] == "pat@prospect.example"
    assert response.data["person"]["email"] == "pat@prospect.example"
    assert response.data["next_attempt_at"] is not None
    assert response.data["actions"] == ["delete", "edit"]
    email = Email.objects.get(pk=response.data["id"])
    assert email.owner == alice
    assert Person.objects.filter(owner=alice, email="pat@prospect.example").count() == 1


def test_it_schedules_an_email_at_a_time_with_offset(api: Api, alice: User) -> None:
    when = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    text = when.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat()
    response = api.post(
        "/emails", alice, {"to": "pat@prospect.example", "subject": "Hi", "body_text": "x",
                           "send_at": text}
    )  # fmt: skip
    assert response.status_code == 201, response.data
    assert dt.datetime.fromisoformat(response.data["send_at"]) == when


def test_it_saves_a_draft(api: Api, alice: User) -> None:
    response = api.post("/emails", alice, {"to": "pat@prospect.example", "subject": "Later",
                                           "draft": True})  # fmt: skip
    assert response.status_code == 201, response.data
    assert response.data["status"] == "draft"
    assert response.data["send_at"] is None


def test_it_puts_a_blocked_recipient_in_failed_with_the_reason(api: Api, alice: User) -> None:
    Suppression.objects.create(value="blocked.example", kind="domain", reason="competitor")
    response = api.post("/emails", alice, {"to": "x@blocked.example", "subject": "Hi",
                                           "body_text": "Hello"})  # fmt: skip
    assert response.status_code == 201
    assert response.data["status"] == "failed"
    assert "competitor" in response.data["reason"]


def test_it_sends_select_and_send_with_a_per_recipient_copy(api: Api, alice: User) -> None:
    Person.objects.create(owner=alice, email="a@prospect.example", first_name="Ann")
    body = {
        "mode": "select_and_send",
        "to": ["a@prospect.example", {"to": "b@prospect.example", "subject": "Just for B"}],
        "subject": "Hello {{first_name}}",
        "body_text": "Shared body",
    }
    response = api.post("/emails/bulk", alice, body)
    assert response.status_code == 201, response.data
    emails = response.data["emails"]
    assert [e["subject"] for e in emails] == ["Hello Ann", "Just for B"]
    assert [e["template"]["subject"] for e in emails] == ["Hello {{first_name}}", "Just for B"]
    assert [e["body_text"] for e in emails] == ["Shared body", "Shared body"]
    batch = Batch.objects.get(pk=response.data["batch"])
    assert batch.mode == "select_and_send" and batch.size == 2
    assert {e["batch"] for e in emails} == {batch.pk}


def test_it_sends_a_group_email(api: Api, alice: User) -> None:
    to = [f"p{i}@prospect.example" for i in range(1000)]
    response = api.post("/emails/bulk", alice, {"mode": "group", "to": to, "subject": "News",
                                                "body_text": "Hello"})  # fmt: skip
    assert response.status_code == 201, response.data
    assert len(response.data["emails"]) == 1000
    assert Email.objects.filter(batch_id=response.data["batch"]).count() == 1000


def test_it_shows_an_email_with_its_events(api: Api, alice: User) -> None:
    email = email_in(Status.BOUNCED, alice)
    Event.objects.create(
        email=email, kind="bounced", from_status="delivered", to_status="bounced",
        detail="mailbox full", payload="Status: 5.2.2", data={"reason": "mailboxfull"},
        created_at=timezone.now(),
    )  # fmt: skip
    response = api.get(f"/emails/{email.pk}", alice)
    assert response.status_code == 200
    assert response.data["id"] == email.pk
    assert response.data["actions"] == ["delete", "retry"]
    kinds = [event["kind"] for event in response.data["events"]]
    assert kinds == ["created", "bounced"]
    assert response.data["events"][1]["payload"] == "Status: 5.2.2"
    assert response.data["events"][1]["data"] == {"reason": "mailboxfull"}


def test_it_edits_a_scheduled_email(api: Api, alice: User) -> None:
    email = email_in(Status.SCHEDULED, alice)
    when = later(5)
    response = api.patch(f"/emails/{email.pk}", alice, {"subject": "New", "send_at": when})
    assert response.status_code == 200, response.data
    assert response.data["subject"] == "New"
    assert response.data["status"] == "scheduled"
    assert dt.datetime.fromisoformat(response.data["send_at"]) == dt.datetime.fromisoformat(when)


def test_it_schedules_a_draft_by_patching_draft_false(api: Api, alice: User) -> None:
    created = api.post("/emails", alice, {"to": "pat@prospect.example", "subject": "S",
                                          "body_text": "B", "draft": True})  # fmt: skip
    response = api.patch(f"/emails/{created.data['id']}", alice, {"draft": False})
    assert response.status_code == 200, response.data
    assert response.data["status"] == "scheduled"


def test_it_refuses_to_edit_a_delivered_email(api: Api, alice: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    before = counts()
    response = api.patch(f"/emails/{email.pk}", alice, {"subject": "New"})
    assert response.status_code == 409
    assert "Delivered" in response.data["detail"]
    email.refresh_from_db()
    assert email.subject == "Quick question"
    assert counts() == before


@pytest.mark.parametrize(
    ("folder", "action", "target"),
    [
        (Status.DELIVERED, "archive", Status.ARCHIVED),
        (Status.ARCHIVED, "unarchive", Status.DELIVERED),
        (Status.FAILED, "retry", Status.SCHEDULED),
        (Status.BOUNCED, "retry", Status.SCHEDULED),
    ],
)
def test_it_runs_each_quick_action_where_the_folder_offers_it(
    api: Api, alice: User, folder: str, action: str, target: str
) -> None:
    email = email_in(folder, alice)
    response = api.post(f"/emails/{email.pk}/{action}", alice)
    assert response.status_code == 200, response.data
    assert response.data["status"] == target
    email.refresh_from_db()
    assert email.status == target


@pytest.mark.parametrize(
    ("folder", "action"),
    [
        (Status.SCHEDULED, "archive"),
        (Status.FAILED, "archive"),
        (Status.DELIVERED, "unarchive"),
        (Status.DELIVERED, "retry"),
        (Status.IN_PROGRESS, "retry"),
        (Status.DRAFT, "retry"),
        (Status.SPAM, "retry"),
    ],
)
def test_it_answers_409_for_an_action_the_folder_does_not_offer(
    api: Api, alice: User, folder: str, action: str
) -> None:
    email = email_in(folder, alice)
    before = counts()
    response = api.post(f"/emails/{email.pk}/{action}", alice)
    assert response.status_code == 409
    assert response.data["detail"]
    email.refresh_from_db()
    assert email.status == folder
    assert counts() == before


@pytest.mark.parametrize(
    "folder", [Status.ARCHIVED, Status.SCHEDULED, Status.DRAFT, Status.FAILED, Status.SPAM]
)
def test_it_deletes_where_allowed(api: Api, alice: User, folder: str) -> None:
    email = email_in(folder, alice)
    response = api.delete(f"/emails/{email.pk}", alice)
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"/emails/{email.pk}", alice).status_code == 404
    assert Event.objects.filter(email=email, kind="deleted").count() == 1


@pytest.mark.parametrize("folder", [Status.DELIVERED, Status.IN_PROGRESS])
def test_it_refuses_to_delete_where_not_allowed(api: Api, alice: User, folder: str) -> None:
    email = email_in(folder, alice)
    response = api.delete(f"/emails/{email.pk}", alice)
    assert response.status_code == 409
    email.refresh_from_db()
    assert email.status == folder


def test_it_counts_every_folder_in_one_call(api: Api, alice: User, bob: User) -> None:
    for folder, n in [(Status.DELIVERED, 3), (Status.SPAM, 1), (Status.DRAFT, 2)]:
        for i in range(n):
            email_in(folder, alice, to=f"{folder}{i}@prospect.example")
    email_in(Status.DELIVERED, bob)
    email_in(Status.DELETED, alice, to="gone@prospect.example")
    response = api.get("/folders", alice)
    assert response.status_code == 200
    assert response.data == dict.fromkeys(FOLDERS, 0) | {"delivered": 3, "spam": 1, "draft": 2}


def test_it_lists_a_folder_newest_first(api: Api, alice: User, bob: User) -> None:
    now = timezone.now()
    old = email_in(Status.DELIVERED, alice, to="old@prospect.example",
                   sort_at=now - dt.timedelta(days=1))  # fmt: skip
    new = email_in(Status.DELIVERED, alice, to="new@prospect.example", sort_at=now)
    email_in(Status.DELIVERED, bob)
    email_in(Status.FAILED, alice)
    response = api.get("/emails?folder=delivered", alice)
    assert response.status_code == 200
    assert [e["id"] for e in response.data] == [new.pk, old.pk]
    assert "Link" not in response.headers and "X-Next-Cursor" not in response.headers


def test_it_searches_a_folder(api: Api, alice: User) -> None:
    email_in(Status.DELIVERED, alice, to="one@acme.example")
    email_in(Status.DELIVERED, alice, to="two@other.example", subject="About acme")
    email_in(Status.DELIVERED, alice, to="three@other.example")
    response = api.get("/emails?folder=delivered&q=ACME", alice)
    assert sorted(e["to"] for e in response.data) == ["one@acme.example", "two@other.example"]


def test_it_shows_a_batch_with_its_emails(api: Api, alice: User) -> None:
    Suppression.objects.create(value="b@prospect.example", reason="asked us to stop")
    created = api.post("/emails/bulk", alice, {
        "mode": "group", "to": ["a@prospect.example", "b@prospect.example"],
        "subject": "News", "body_text": "Hello",
    })  # fmt: skip
    response = api.get(f"/batches/{created.data['batch']}", alice)
    assert response.status_code == 200
    assert response.data["mode"] == "group" and response.data["size"] == 2
    assert response.data["folders"]["scheduled"] == 1
    assert response.data["folders"]["failed"] == 1
    assert [e["to"] for e in response.data["emails"]] == ["a@prospect.example",
                                                           "b@prospect.example"]  # fmt: skip


def test_it_says_who_i_am(api: Api, alice: User, admin: User) -> None:
    response = api.get("/me", admin)
    assert response.status_code == 200
    assert response.data["username"] == "ada"
    assert response.data["is_admin"] is True
    assert response.data["team"] == "default"
    assert response.data["viewing_as"] == "ada"
    assert response.data["can_view_as"] == ["ada", "alice"]
    assert api.get("/me?as=alice", admin).data["viewing_as"] == "alice"


def all_times(data: Any) -> list[str]:
    """Every value of a field named *_at in a JSON document."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_at") and isinstance(value, str):
                found.append(value)
            else:
                found += all_times(value)
    elif isinstance(data, list):
        for item in data:
            found += all_times(item)
    return found


def test_it_gives_every_timestamp_in_utc_with_a_z(api: Api, alice: User) -> None:
    paris = (timezone.now() + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=1)))
    body = {"to": "pat@prospect.example", "subject": "Hi", "body_text": "x"}
    created = api.post("/emails", alice, body | {"send_at": paris.isoformat()})
    shown = api.get(f"/emails/{created.data['id']}", alice)
    listed = api.get("/emails?folder=scheduled", alice)
    person = api.get(f"/people/{created.data['person']['id']}", alice)

    times = all_times([created.data, shown.data, listed.data, person.data])
    assert len(times) >= 10
    assert all(value.endswith("Z") for value in times), times


def test_it_refuses_an_empty_merge_field_naming_it_and_the_people(api: Api, alice: User) -> None:
    response = api.post("/emails/bulk", alice, {"mode": "group", "subject": "Hi {{first_name}}",
                                                "body_text": "x",
                                                "to": ["a@x.example", "b@x.example"]})  # fmt: skip
    assert response.status_code == 422
    assert response.data["missing"] == {
        "a@x.example": ["first_name"],
        "b@x.example": ["first_name"],
    }
    assert "{{first_name}}" in response.data["errors"]["merge"]
    assert not Email.objects.exists()


def test_it_speaks_english_whatever_the_client_asks_for(api: Api, alice: User) -> None:
    response = api.post("/emails", alice, {"to": "a@x.example", "subject": "{{first_name}}",
                                           "body_text": "x"},
                        headers={"Accept-Language": "zh-Hans"})  # fmt: skip
    assert response.status_code == 422
    assert "would be empty" in response.data["errors"]["merge"]


def test_it_edits_a_failed_email_then_sends_it_again(api: Api, alice: User) -> None:
    email = email_in(Status.FAILED, alice)
    edited = api.patch(f"/emails/{email.pk}", alice, {"body_text": "Fixed body"})
    assert edited.status_code == 200, edited.data
    assert (edited.data["status"], edited.data["body_text"]) == ("failed", "Fixed body")
    again = api.patch(f"/emails/{email.pk}", alice, {"draft": False})
    assert again.status_code == 200, again.data
    assert (again.data["status"], again.data["failed_at"]) == ("scheduled", None)


def test_it_refuses_retry_with_the_reason_and_hides_it_from_actions(api: Api, alice: User) -> None:
    email = email_in(Status.BOUNCED, alice)
    Suppression.objects.create(value=email.to_address, reason="hard bounce: no such user")
    listed = api.get("/emails?folder=bounced", alice).data
    assert listed[0]["actions"] == ["delete"]
    response = api.post(f"/emails/{email.pk}/retry", alice)
    assert response.status_code == 409
    assert "no such user" in response.data["detail"]


def test_it_links_an_email_to_a_usable_template_only(api: Api, alice: User, bob: User) -> None:
    mine = Template.objects.create(owner=alice, name="Intro", subject="Hi", body_text="x")
    bobs = Template.objects.create(owner=bob, name="Secret", subject="Hi", body_text="x")
    body = {"to": "a@x.example", "subject": "Hi", "body_text": "x"}
    ok = api.post("/emails", alice, body | {"template": mine.pk})
    assert ok.status_code == 201 and ok.data["template"]["id"] == mine.pk
    refused = api.post("/emails", alice, body | {"template": bobs.pk})
    assert refused.status_code == 422 and "template" in refused.data["errors"]
