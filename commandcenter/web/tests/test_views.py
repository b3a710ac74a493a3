"""The web UI through Django's test client: scoping, CSRF, form errors, escaping, actions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.web.tests.helpers import email_in

pytestmark = pytest.mark.django_db


def signed_in(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_it_sends_anonymous_visitors_to_sign_in() -> None:
    response = Client().get(reverse("web:folder", args=["delivered"]))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_it_signs_in_with_a_password_and_ignores_a_foreign_next(alice: User) -> None:
    response = Client().post(
        "/login/?next=https://evil.example/", {"username": "alice", "password": "alice-pass"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")


def test_it_refuses_a_wrong_password(alice: User) -> None:
    response = Client().post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in response.client.session


def test_it_shows_the_folder_with_counts(alice: User) -> None:
    email_in(Status.DELIVERED, alice, subject="Hello Pat")
    email_in(Status.FAILED, alice, to="lee@prospect.example", reason="550 No such user")
    response = signed_in(alice).get(reverse("web:folder", args=["delivered"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hello Pat" in body
    assert 'data-count="delivered">1<' in body
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


def test_it_shows_the_reason_of_a_failed_email(alice: User) -> None:
    email_in(Status.FAILED, alice, reason="550 5.1.1 No such user here")
    body = signed_in(alice).get(reverse("web:folder", args=["failed"])).content.decode()
    assert "550 5.1.1 No such user here" in body


def test_it_shows_only_the_users_own_emails(alice: User, bob: User) -> None:
    email_in(Status.DELIVERED, bob, subject="Bob's secret deal")
    body = signed_in(alice).get(reverse("web:folder", args=["delivered"])).content.decode()
    assert "Bob&#x27;s secret deal" not in body
    assert 'data-count="delivered">0<' in body


def test_it_answers_404_for_another_users_email(alice: User, bob: User) -> None:
    email = email_in(Status.DELIVERED, bob)
    client = signed_in(alice)
    assert client.get(reverse("web:email", args=[email.pk])).status_code == 404
    assert client.get(reverse("web:edit", args=[email.pk])).status_code == 404


def test_it_refuses_actions_on_another_users_email(alice: User, bob: User) -> None:
    email = email_in(Status.DELIVERED, bob)
    response = signed_in(alice).post(
        reverse("web:actions"), {"one": f"{email.pk}:archive", "next": "/"}
    )
    assert response.status_code == 404
    email.refresh_from_db()
    assert email.status == Status.DELIVERED


def test_it_archives_and_unarchives_a_row(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    client = signed_in(alice)
    client.post(reverse("web:actions"), {"one": f"{email.pk}:archive", "next": "/"})
    email.refresh_from_db()
    assert email.status == Status.ARCHIVED
    client.post(reverse("web:actions"), {"one": f"{email.pk}:unarchive", "next": "/"})
    email.refresh_from_db()
    assert email.status == Status.DELIVERED


def test_it_asks_before_deleting_a_selection(alice: User) -> None:
    first = email_in(Status.FAILED, alice)
    second = email_in(Status.FAILED, alice, to="lee@prospect.example")
    client = signed_in(alice)
    data = {"action": "delete", "ids": [first.pk, second.pk], "next": "/folders/failed/"}
    response = client.post(reverse("web:actions"), data)
    assert response.status_code == 200
    assert "Delete 2 emails?" in response.content.decode()
    assert Email.objects.filter(status=Status.DELETED).count() == 0
    response = client.post(reverse("web:actions"), {**data, "confirmed": "yes"})
    assert response["Location"] == "/folders/failed/"
    assert Email.objects.filter(status=Status.DELETED).count() == 2


def test_it_refuses_an_action_the_folder_does_not_offer(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    client = signed_in(alice)
    response = client.post(
        reverse("web:actions"), {"one": f"{email.pk}:retry", "next": "/"}, follow=True
    )
    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert "Retry Send is not possible for a Delivered email." in response.content.decode()


def test_it_never_redirects_off_site_after_an_action(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    response = signed_in(alice).post(
        reverse("web:actions"), {"one": f"{email.pk}:archive", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("web:home")


def test_it_enforces_csrf_on_actions(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    response = signed_in(alice, csrf=True).post(
        reverse("web:actions"), {"one": f"{email.pk}:archive", "next": "/"}
    )
    assert response.status_code == 403
    email.refresh_from_db()
    assert email.status == Status.DELIVERED


def test_it_enforces_csrf_on_compose(alice: User) -> None:
    response = signed_in(alice, csrf=True).post(
        reverse("web:compose"),
        {"to": "pat@prospect.example", "subject": "Hi", "body_text": "Hello", "intent": "send"},
    )
    assert response.status_code == 403
    assert not Email.objects.exists()


def test_it_escapes_a_script_subject_and_name(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice, subject="<script>alert(1)</script>")
    Person.objects.filter(pk=email.person_id).update(first_name="<img src=x onerror=alert(2)>")
    client = signed_in(alice)
    for url in (reverse("web:folder", args=["delivered"]), reverse("web:email", args=[email.pk])):
        body = client.get(url).content.decode()
        assert "<script>alert(1)" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<img src=x" not in body


def test_it_sandboxes_the_html_of_an_email(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice, body_html='<p>Hi</p><script>alert("x")</script>"><b>')
    body = signed_in(alice).get(reverse("web:email", args=[email.pk])).content.decode()
    assert '<iframe class="email-html" sandbox=""' in body
    assert "<script>alert" not in body
    assert 'srcdoc="&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;' in body


def test_it_escapes_event_payloads(alice: User) -> None:
    email = email_in(Status.DELIVERED, alice)
    email.events.create(
        kind="opened",
        data={"user_agent": "<script>evil()</script>"},
        payload="<b>raw</b>",
        created_at=email.created_at,
    )
    body = signed_in(alice).get(reverse("web:email", args=[email.pk])).content.decode()
    assert "<script>evil()" not in body
    assert "&lt;script&gt;evil()&lt;/script&gt;" in body
    assert "&lt;b&gt;raw&lt;/b&gt;" in body


def test_it_composes_and_schedules_a_single_email(alice: User) -> None:
    response = signed_in(alice).post(
        reverse("web:compose"),
        {
            "to": "pat@prospect.example",
            "subject": "Meeting",
            "body_text": "Hi {{first_name | there}}",
            "date": "2099-01-02",
            "time": "09:30",
            "time_zone": "Europe/Paris",
            "intent": "schedule",
        },
    )
    assert response.status_code == 302
    email = Email.objects.get()
    assert email.status == Status.SCHEDULED
    assert email.send_at is not None
    assert email.send_at.isoformat() == "2099-01-02T08:30:00+00:00"


def test_it_shows_compose_errors_next_to_fields_and_creates_nothing(alice: User) -> None:
    response = signed_in(alice).post(
        reverse("web:compose"),
        {
            "to": "not an address",
            "subject": "",
            "body_text": "",
            "intent": "send",
            "time_zone": "UTC",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="to-error"' in body
    assert 'id="subject-error"' in body
    assert "A subject is required." in body
    assert not Email.objects.exists()


def test_it_needs_a_date_to_schedule(alice: User) -> None:
    response = signed_in(alice).post(
        reverse("web:compose"),
        {
            "to": "pat@prospect.example",
            "subject": "Hi",
            "body_text": "Hello",
            "time_zone": "UTC",
            "intent": "schedule",
        },
    )
    assert 'id="date-error"' in response.content.decode()
    assert not Email.objects.exists()


def test_it_saves_and_edits_a_draft(alice: User) -> None:
    client = signed_in(alice)
    client.post(
        reverse("web:compose"),
        {
            "to": "pat@prospect.example",
            "subject": "Draft one",
            "body_text": "",
            "time_zone": "UTC",
            "intent": "draft",
        },
    )
    email = Email.objects.get()
    assert email.status == Status.DRAFT
    response = client.post(
        reverse("web:edit", args=[email.pk]),
        {
            "to": "pat@prospect.example",
            "subject": "Draft two",
            "body_text": "Body",
            "time_zone": "UTC",
            "intent": "draft",
        },
    )
    assert response.status_code == 302
    email.refresh_from_db()
    assert (email.status, email.subject) == (Status.DRAFT, "Draft two")


def test_it_sends_select_and_send_with_one_copy_edited(alice: User) -> None:
    client = signed_in(alice)
    data = {
        "mode": "select_and_send",
        "to": "a@prospect.example\nb@prospect.example, c@prospect.example",
        "subject": "Hello {{first_name}}",
        "body_text": "Shared body",
        "time_zone": "UTC",
    }
    preview = client.post(reverse("web:compose_bulk"), {**data, "intent": "preview"})
    assert preview.content.decode().count('<li class="copy') == 3
    assert not Email.objects.exists()
    copies = {
        "copy-b_at_prospect.example-to": "b@prospect.example",
        "copy-b_at_prospect.example-subject": "Just for B",
        "copy-b_at_prospect.example-body_text": "Edited body",
        "copy-b_at_prospect.example-body_html": "",
        "fill-a_at_prospect.example-first_name": "Ann",
        "fill-c_at_prospect.example-first_name": "Cy",
    }
    response = client.post(reverse("web:compose_bulk"), {**data, **copies, "intent": "send"})
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert batch.mode == Batch.Mode.SELECT_AND_SEND
    subjects = dict(Email.objects.values_list("to_address", "subject"))
    assert subjects["b@prospect.example"] == "Just for B"
    assert subjects["a@prospect.example"] == "Hello Ann"
    assert Person.objects.get(email="c@prospect.example").first_name == "Cy"


def test_it_refuses_more_than_the_limit_of_a_select_and_send(alice: User) -> None:
    addresses = "\n".join(f"p{i}@prospect.example" for i in range(201))
    response = signed_in(alice).post(
        reverse("web:compose_bulk"),
        {
            "mode": "select_and_send",
            "to": addresses,
            "subject": "Hi",
            "body_text": "Hello",
            "time_zone": "UTC",
            "intent": "send",
        },
    )
    assert "at most 200 recipients" in response.content.decode()
    assert not Email.objects.exists()


def test_it_rolls_a_group_email_into_one_row(alice: User) -> None:
    client = signed_in(alice)
    client.post(
        reverse("web:compose_bulk"),
        {
            "mode": "group",
            "to": "a@x.example b@x.example c@x.example",
            "subject": "Group hi",
            "body_text": "Hello",
            "time_zone": "UTC",
            "intent": "send",
        },
    )
    assert Email.objects.filter(status=Status.SCHEDULED).count() == 3
    body = client.get(reverse("web:folder", args=["scheduled"])).content.decode()
    assert body.count('class="group"') == 1
    assert "3 recipients" in body


def test_it_lets_an_admin_view_as_a_teammate_read_only(admin: User, alice: User) -> None:
    email_in(Status.DELIVERED, alice, subject="Alice's deal")
    client = signed_in(admin)
    client.post(reverse("web:view_as"), {"view_as": str(alice.pk), "next": "/"})
    body = client.get(reverse("web:folder", args=["delivered"])).content.decode()
    assert "Alice&#x27;s deal" in body
    assert 'name="one"' not in body


def test_it_refuses_view_as_for_a_non_admin(alice: User, bob: User) -> None:
    email_in(Status.DELIVERED, bob, subject="Bob's deal")
    client = signed_in(alice)
    client.post(reverse("web:view_as"), {"view_as": str(bob.pk), "next": "/"})
    body = client.get(reverse("web:folder", args=["delivered"])).content.decode()
    assert "Bob&#x27;s deal" not in body


def test_it_refuses_view_as_outside_the_team(admin: User) -> None:
    outsider = create_user("olga", email="olga@example.com", password="x", team_name="other")
    email_in(Status.DELIVERED, outsider, subject="Olga's deal")
    client = signed_in(admin)
    client.post(reverse("web:view_as"), {"view_as": str(outsider.pk), "next": "/"})
    body = client.get(reverse("web:folder", args=["delivered"])).content.decode()
    assert "Olga&#x27;s deal" not in body


def test_it_adds_and_marks_a_person_do_not_contact(alice: User) -> None:
    client = signed_in(alice)
    response = client.post(
        reverse("web:person_new"),
        {"email": "New@Prospect.example", "first_name": "Nia", "company": "Acme"},
    )
    assert response.status_code == 302
    person = Person.objects.get(owner=alice)
    assert person.email == "new@prospect.example"
    client.post(reverse("web:person_dnc", args=[person.pk]), {"value": "on"})
    person.refresh_from_db()
    assert person.do_not_contact


def test_it_refuses_a_duplicate_person(alice: User) -> None:
    Person.objects.create(owner=alice, email="pat@prospect.example")
    response = signed_in(alice).post(reverse("web:person_new"), {"email": "PAT@prospect.example"})
    assert "already have a person" in response.content.decode()
    assert Person.objects.count() == 1


def test_it_previews_a_csv_import_then_imports(alice: User) -> None:
    client = signed_in(alice)
    csv_text = "email,first_name,company\nnia@acme.example,<b>Nia</b>,Acme\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", csv_text.encode(), content_type="text/csv")
    preview = client.post(reverse("web:people_import"), {"file": upload})
    assert "1 new" in preview.content.decode()
    assert not Person.objects.exists()
    client.post(reverse("web:people_import"), {"csv_text": csv_text, "confirmed": "yes"})
    person = Person.objects.get()
    assert person.first_name == "<b>Nia</b>"
    body = client.get(reverse("web:people")).content.decode()
    assert "&lt;b&gt;Nia&lt;/b&gt;" in body


def test_it_reports_csv_errors_per_row_and_imports_nothing(alice: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_text = "email,first_name\nok@acme.example,Ok\nnot-an-address,Bad\n"
    upload = SimpleUploadedFile("people.csv", csv_text.encode(), content_type="text/csv")
    response = signed_in(alice).post(reverse("web:people_import"), {"file": upload})
    body = response.content.decode()
    assert "<td>3</td>" in body
    assert not Person.objects.exists()


def test_it_shows_the_page_in_chinese_for_the_user_setting(alice: User) -> None:
    alice.language = "zh-hans"
    alice.save()
    body = signed_in(alice).get(reverse("web:folder", args=["delivered"])).content.decode()
    assert "已送达" in body


def test_it_shows_the_page_in_chinese_from_the_browser(alice: User) -> None:
    response = signed_in(alice).get(
        reverse("web:folder", args=["delivered"]), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    )
    assert "已送达" in response.content.decode()


def test_it_shows_the_catcher_banner(alice: User, settings: object) -> None:
    body = signed_in(alice).get(reverse("web:tasks")).content.decode()
    assert "nothing leaves this machine" in body
    assert "Start tasks" in body


def test_it_pages_through_a_folder_with_a_cursor(alice: User) -> None:
    for number in range(55):
        email_in(Status.DELIVERED, alice, subject=f"Note {number:02d}")
    client = signed_in(alice)
    first = client.get(reverse("web:folder", args=["delivered"])).content.decode()
    assert first.count("<tr data-email=") == 50
    cursor = first.split("?cursor=")[1].split('"')[0]
    second = client.get(reverse("web:folder", args=["delivered"]) + f"?cursor={cursor}")
    assert second.content.decode().count("<tr data-email=") == 5


def test_it_refuses_a_broken_cursor(alice: User) -> None:
    response = signed_in(alice).get(reverse("web:folder", args=["delivered"]) + "?cursor=%%%")
    assert response.status_code == 400


def test_it_searches_by_recipient_and_subject(alice: User) -> None:
    email_in(Status.DELIVERED, alice, to="pat@acme.example", subject="Pricing")
    email_in(Status.DELIVERED, alice, to="lee@globex.example", subject="Hello")
    client = signed_in(alice)
    body = client.get(reverse("web:folder", args=["delivered"]) + "?q=globex").content.decode()
    assert "lee@globex.example" in body
    assert "pat@acme.example" not in body


def test_it_serves_in_progress_rows_for_polling(alice: User) -> None:
    email_in(Status.IN_PROGRESS, alice, subject="Going out now")
    response = signed_in(alice).get(
        reverse("web:folder", args=["in_progress"]) + "?part=rows", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<tbody id="rows" hx-get=')
    assert "Going out now" in body


def test_it_serves_the_tab_bar_with_fresh_counts(alice: User) -> None:
    email_in(Status.SCHEDULED, alice)
    body = signed_in(alice).get(reverse("web:tabs") + "?folder=scheduled").content.decode()
    assert 'data-count="scheduled">1<' in body
    assert 'hx-trigger="every 3s"' in body


def test_it_lets_an_admin_view_the_whole_team(admin: User) -> None:
    mate = create_user("mia", email="mia@example.com", password="x")
    email_in(Status.DELIVERED, mate, subject="Mia's deal")
    email_in(Status.DELIVERED, admin, to="x@y.example", subject="Ada's deal")
    client = signed_in(admin)
    client.post(reverse("web:view_as"), {"view_as": "team", "next": "/"})
    body = client.get(reverse("web:folder", args=["delivered"])).content.decode()
    assert "Mia&#x27;s deal" in body
    assert "Ada&#x27;s deal" in body
    assert 'data-count="delivered">2<' in body


def test_it_changes_the_password(alice: User) -> None:
    client = signed_in(alice)
    response = client.post(
        reverse("web:password"),
        {
            "old_password": "alice-pass",
            "new_password1": "a-much-longer-pass-42",
            "new_password2": "a-much-longer-pass-42",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-much-longer-pass-42")


def test_it_keeps_the_password_on_a_wrong_old_one(alice: User) -> None:
    response = signed_in(alice).post(
        reverse("web:password"),
        {
            "old_password": "wrong",
            "new_password1": "x-long-pass-1",
            "new_password2": "x-long-pass-1",
        },
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("alice-pass")


def test_it_saves_the_users_language(alice: User) -> None:
    client = signed_in(alice)
    client.post(reverse("web:preferences"), {"language": "zh-hans", "time_zone": "Asia/Shanghai"})
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("zh-hans", "Asia/Shanghai")
    assert "设置" in client.get(reverse("web:preferences")).content.decode()


def test_it_signs_out_only_by_post(alice: User) -> None:
    client = signed_in(alice)
    assert client.get(reverse("web:logout")).status_code == 405
    client.post(reverse("web:logout"))
    assert client.get(reverse("web:home")).status_code == 302


def test_it_expands_a_group_row_only_for_its_owner(alice: User, bob: User) -> None:
    signed_in(alice).post(
        reverse("web:compose_bulk"),
        {
            "mode": "group",
            "to": "a@x.example b@x.example",
            "subject": "Group hi",
            "body_text": "Hello",
            "time_zone": "UTC",
            "intent": "send",
        },
    )
    batch = Batch.objects.get()
    url = reverse("web:batch_rows", args=[batch.pk, "scheduled"])
    body = signed_in(alice).get(url).content.decode()
    assert body.count("<li>") == 2
    assert signed_in(bob).get(url).status_code == 404


def test_it_collapses_many_refusals_into_one_message(alice: User) -> None:
    emails = [email_in(Status.DELIVERED, alice, to=f"p{i}@x.example") for i in range(7)]
    response = signed_in(alice).post(
        reverse("web:actions"),
        {"action": "retry", "ids": [e.pk for e in emails], "next": "/"},
        follow=True,
    )
    body = response.content.decode()
    assert body.count("Retry Send is not possible for a Delivered email.") == 5
    assert "…and 2 more could not be changed." in body
