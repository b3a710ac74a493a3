"""The pages of the Emails section as a rep lives in it: what went out, the timeline, groups,
"Sending to…", templates, people, settings — each across two users and two teams."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.mailtemplates.models import Template
from commandcenter.mailtemplates.services import stats_for
from commandcenter.outbox import actions
from commandcenter.outbox.compose import Content, Recipient, compose_bulk, compose_single
from commandcenter.outbox.models import Email, MergeDefault
from commandcenter.outbox.states import Status, transition
from commandcenter.people.models import Person, Suppression, SuppressionEvent
from commandcenter.signals.record import record_signal
from commandcenter.web.tests.helpers import email_in

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sent(user: User, to: str = "pat@x.example", subject: str = "Hi {{first_name}}") -> Email:
    Person.objects.get_or_create(owner=user, email=to, defaults={"first_name": "Pat"})
    email = compose_single(user, to=to, subject=subject, body_text="Hello {{first_name}}")
    transition(email.pk, Status.IN_PROGRESS, kind="claimed", data={"worker": "host:1:abcd"})
    transition(
        email.pk,
        Status.DELIVERED,
        kind="sent",
        data={"smtp_reply": "250 2.0.0 queued", "smtp_server": "mail.example.com"},
    )
    email.refresh_from_db()
    return email


def test_lists_and_pages_show_the_email_as_it_went_out(alice: User) -> None:
    email = sent(alice)
    client = signed_in(alice)

    folder = client.get(reverse("web:folder", args=["delivered"])).content.decode()
    page = client.get(reverse("web:email", args=[email.pk])).content.decode()

    assert "Hi Pat" in folder and "{{first_name}}" not in folder
    assert "Hi Pat" in page and "Hello Pat" in page
    assert "Hi {{first_name}}" in page  # as written, under its own toggle


def test_the_timeline_speaks_to_a_rep_and_keeps_raw_facts_under_details(alice: User) -> None:
    email = sent(alice)
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148"
    )
    record_signal(email, "opened", data={"machine": False, "user_agent": iphone})
    record_signal(email, "opened", data={"machine": True, "reason": "Proofpoint link scanner"})

    page = signed_in(alice).get(reverse("web:email", args=[email.pk])).content.decode()

    assert "Sent to Pat · accepted by mail.example.com:" in page
    assert "250 2.0.0 queued" in page
    assert "Opened · iPhone, Mail app" in page
    assert "Opened by a link scanner (not counted)." in page
    details = page.split('class="event-details"')[1]
    assert "host:1:abcd" in page.split("The sender picked it up.")[1].split("</li>")[0]
    assert "<summary>Details</summary>" in details


def test_dates_are_in_the_reps_zone_with_the_zone_named(alice: User) -> None:
    alice.time_zone = "Europe/Paris"
    alice.save()
    email = sent(alice)

    page = signed_in(alice).get(reverse("web:email", args=[email.pk])).content.decode()

    assert "Paris time" in page


def test_a_retried_email_no_longer_shows_its_old_failed_date(alice: User) -> None:
    email = email_in(Status.FAILED, alice, reason="550 no such user (at RCPT TO)")
    client = signed_in(alice)
    assert "<dt>Failed</dt>" in client.get(reverse("web:email", args=[email.pk])).content.decode()

    actions.retry(email)

    page = client.get(reverse("web:email", args=[email.pk])).content.decode()
    assert "<dt>Failed</dt>" not in page
    assert "<dt>Scheduled for</dt>" in page
    assert "Sent again with Retry Send." in page


def test_a_group_rows_subject_opens_the_group(alice: User, bob: User) -> None:
    batch, _ = compose_bulk(
        alice,
        mode="group",
        recipients=[Recipient("a@x.example"), Recipient("b@x.example")],
        content=Content("News", "x"),
    )
    client = signed_in(alice)

    folder = client.get(reverse("web:folder", args=["scheduled"])).content.decode()
    group = client.get(reverse("web:batch", args=[batch.pk])).content.decode()

    assert f'href="/batches/{batch.pk}/"' in folder
    assert "a@x.example" in group and "b@x.example" in group
    assert signed_in(bob).get(reverse("web:batch", args=[batch.pk])).status_code == 404


def test_send_now_says_it_is_sending_and_the_row_follows_the_email(alice: User) -> None:
    Person.objects.create(owner=alice, email="pat@x.example", first_name="Pat")
    client = signed_in(alice)

    response = client.post(
        reverse("web:compose"),
        {
            "to": "pat@x.example",
            "subject": "Hi",
            "body_text": "x",
            "time_zone": "UTC",
            "intent": "send",
        },
        follow=True,
    )

    body = response.content.decode()
    email = Email.objects.get()
    assert "Sending to Pat…" in body
    assert f'hx-get="/emails/{email.pk}/row/"' in body
    row = client.get(reverse("web:email_row", args=[email.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in row  # still on its way
    transition(email.pk, Status.IN_PROGRESS, kind="claimed")
    transition(email.pk, Status.DELIVERED, kind="sent")
    row = client.get(reverse("web:email_row", args=[email.pk])).content.decode()
    assert "every 1s" not in row and "Delivered" in row


def test_scheduling_says_when_with_the_zone(alice: User) -> None:
    response = signed_in(alice).post(
        reverse("web:compose"),
        {
            "to": "pat@x.example",
            "subject": "Hi",
            "body_text": "x",
            "date": "2099-03-04",
            "time": "14:00",
            "time_zone": "Europe/Paris",
            "intent": "schedule",
        },
        follow=True,
    )

    assert "Scheduled for Wed, Mar 4, 2099, 14:00 Paris time" in response.content.decode()
    assert Email.objects.get().send_zone == "Europe/Paris"


def test_compose_comes_back_with_everything_typed_and_a_way_to_fill_the_field(
    alice: User,
) -> None:
    client = signed_in(alice)
    data = {
        "to": "new@x.example",
        "subject": "Hi {{first_name}}",
        "body_text": "Dear {{first_name}}",
        "time_zone": "UTC",
        "intent": "send",
    }

    refused = client.post(reverse("web:compose"), data).content.decode()

    assert "would be empty for new@x.example" in refused
    assert 'name="fill-first_name"' in refused
    assert 'value="Hi {{first_name}}"' in refused
    assert not Email.objects.exists() and not Person.objects.exists()
    client.post(reverse("web:compose"), {**data, "fill-first_name": "Nia"})
    assert Email.objects.get().subject == "Hi Nia"


def test_the_bulk_preview_marks_the_copies_that_cannot_be_filled(alice: User) -> None:
    Person.objects.create(owner=alice, email="ann@x.example", first_name="Ann")
    data = {
        "mode": "select_and_send",
        "to": "ann@x.example\nbob@x.example",
        "subject": "Hi {{first_name}}",
        "body_text": "x",
        "time_zone": "UTC",
    }
    client = signed_in(alice)

    preview = client.post(reverse("web:compose_bulk"), {**data, "intent": "send"}).content.decode()

    assert "1 copy cannot be filled" in preview
    assert 'name="fill-bob_at_x.example-first_name"' in preview
    assert 'name="remove" value="bob@x.example"' in preview
    assert not Email.objects.exists()
    client.post(reverse("web:compose_bulk"), {**data, "intent": "send", "remove": "bob@x.example"})
    assert list(Email.objects.values_list("subject", flat=True)) == ["Hi Ann"]


def test_the_reps_default_fills_an_empty_field(alice: User) -> None:
    signed_in(alice).post(
        reverse("web:preferences"),
        {
            "first_name": "",
            "last_name": "",
            "language": "",
            "time_zone": "UTC",
            "signature": "",
            "md-name-0": "first_name",
            "md-value-0": "there",
        },
    )
    assert MergeDefault.objects.get(owner=alice).value == "there"

    email = compose_single(alice, to="new@x.example", subject="Hi {{first_name}}", body_text="x")

    assert email.subject == "Hi there"


def test_to_suggests_only_the_users_own_people(alice: User, bob: User) -> None:
    Person.objects.create(owner=alice, email="pat@acme.example", first_name="Pat")
    Person.objects.create(owner=bob, email="patrick@other.example", first_name="Patrick")

    options = signed_in(alice).get(reverse("web:people_suggest"), {"to": "pat"}).content.decode()

    assert "pat@acme.example" in options and "patrick@other.example" not in options


def test_the_plain_text_part_is_made_from_the_html(alice: User) -> None:
    response = signed_in(alice).post(
        reverse("web:plain_text"),
        {"body_html": "<div>Hi <b>Pat</b><br><a href='https://x.io'>x</a></div>"},
    )

    assert response.content.decode() == "Hi Pat\nx (https://x.io)"


def test_templates_show_how_their_emails_did_counting_people_only(alice: User) -> None:
    template = Template.objects.create(owner=alice, name="Intro", subject="Hi", body_text="x")
    for index in range(3):
        email = sent(alice, to=f"p{index}@x.example")
        Email.objects.filter(pk=email.pk).update(template=template)
    first = Email.objects.filter(template=template).first()
    assert first is not None
    record_signal(first, "opened", counter="opens", data={"machine": False})
    record_signal(first, "clicked", data={"machine": True})  # a scanner: not counted

    stats = stats_for([template])[template.pk]
    page = signed_in(alice).get(reverse("web:templates")).content.decode()

    assert (stats.sent, stats.viewed, stats.clicked, stats.replied) == (3, 1, 0, 0)
    assert "33 %" in page


def test_templates_are_shared_within_a_team_only(alice: User) -> None:
    mate = create_user("mate", email="mate@example.com")
    stranger = create_user("stranger", email="s@example.com", team_name="Other")
    shared = Template.objects.create(owner=alice, name="Shared", subject="Hi", shared=True)
    Template.objects.create(owner=alice, name="Mine only", subject="Hi")

    assert "Shared" in signed_in(mate).get(reverse("web:templates")).content.decode()
    assert "Mine only" not in signed_in(mate).get(reverse("web:templates")).content.decode()
    assert "Shared" not in signed_in(stranger).get(reverse("web:templates")).content.decode()
    # A teammate may use it, not change it.
    assert signed_in(mate).get(reverse("web:template_edit", args=[shared.pk])).status_code == 404
    started = signed_in(mate).get(reverse("web:compose") + f"?template={shared.pk}")
    assert f'value="{shared.pk}"' in started.content.decode()


def test_saving_an_email_as_a_template(alice: User) -> None:
    signed_in(alice).post(
        reverse("web:compose"),
        {
            "to": "",
            "subject": "Quick {{company}}",
            "body_text": "Hello",
            "time_zone": "UTC",
            "intent": "save_template",
            "template_name": "Quick",
            "template_shared": "on",
        },
    )

    template = Template.objects.get()
    assert (template.name, template.subject, template.shared) == (
        "Quick",
        "Quick {{company}}",
        True,
    )


def test_people_search_finds_custom_fields_and_rows_show_last_email_and_badges(
    alice: User,
) -> None:
    pat = Person.objects.create(
        owner=alice, email="pat@x.example", first_name="Pat", custom_fields={"industry": "rockets"}
    )
    Person.objects.create(owner=alice, email="other@x.example")
    sent(alice, to="pat@x.example", subject="Rocket news")
    Person.objects.filter(pk=pat.pk).update(unsubscribed_at=timezone.now())
    Suppression.objects.create(value="pat@x.example", reason="userunknown: 550 gone")
    client = signed_in(alice)

    page = client.get(reverse("web:people"), {"q": "rockets"}).content.decode()

    assert "pat@x.example" in page and "other@x.example" not in page
    assert "Rocket news" in page
    assert "Unsubscribed" in page and "Suppressed" in page


def test_the_person_form_edits_custom_fields(alice: User) -> None:
    pat = Person.objects.create(owner=alice, email="pat@x.example", custom_fields={"plan": "gold"})
    client = signed_in(alice)
    assert 'value="plan"' in client.get(reverse("web:person_edit", args=[pat.pk])).content.decode()

    client.post(
        reverse("web:person_edit", args=[pat.pk]),
        {
            "email": "pat@x.example",
            "cf-name-0": "plan",
            "cf-value-0": "silver",
            "cf-name-1": "industry",
            "cf-value-1": "rockets",
            "do_not_contact": "on",
            "do_not_contact_reason": "asked on a call",
        },
    )

    pat.refresh_from_db()
    assert pat.custom_fields == {"plan": "silver", "industry": "rockets"}
    assert pat.do_not_contact and pat.do_not_contact_at is not None
    bad = client.post(
        reverse("web:person_edit", args=[pat.pk]),
        {"email": "pat@x.example", "cf-name-0": "not a name", "cf-value-0": "x"},
    )
    assert "cannot be a field name" in bad.content.decode()


def test_editing_a_person_refreshes_the_preview_of_their_scheduled_email(alice: User) -> None:
    pat = Person.objects.create(owner=alice, email="pat@x.example", first_name="Pat")
    email = compose_single(
        alice,
        to="pat@x.example",
        subject="Hi {{first_name}}",
        body_text="x",
        send_at=timezone.now() + dt.timedelta(days=1),
    )

    signed_in(alice).post(
        reverse("web:person_edit", args=[pat.pk]), {"email": "pat@x.example", "first_name": "Patty"}
    )

    email.refresh_from_db()
    assert email.subject == "Hi Patty"


def test_only_an_admin_lifts_a_suppression_with_a_reason_and_an_event(
    alice: User, admin: User
) -> None:
    suppression = Suppression.objects.create(value="pat@x.example", reason="hard bounce")
    url = reverse("web:suppression_lift", args=[suppression.pk])
    assert signed_in(alice).post(url, {"reason": "please"}).status_code == 403
    client = signed_in(admin)
    assert "Why you lift it" in client.get(url).content.decode()

    refused = client.post(url, {"reason": "  "})
    assert "Say why" in refused.content.decode()
    assert Suppression.objects.exists()

    client.post(url, {"reason": "The address works again"})

    assert not Suppression.objects.exists()
    event = SuppressionEvent.objects.get()
    assert (event.by, event.reason, event.previous_reason) == (
        admin,
        "The address works again",
        "hard bounce",
    )


def test_the_failed_row_offers_edit_and_retry_only_where_it_can_succeed(alice: User) -> None:
    fine = email_in(Status.FAILED, alice, to="ok@x.example")
    blocked = email_in(Status.FAILED, alice, to="no@x.example")
    Suppression.objects.create(value="no@x.example", reason="hard bounce")

    page = signed_in(alice).get(reverse("web:folder", args=["failed"])).content.decode()

    assert f'value="{fine.pk}:retry"' in page
    assert f'value="{blocked.pk}:retry"' not in page
    assert f"/emails/{blocked.pk}/edit/" in page


def test_a_failed_email_is_edited_then_sent_again(alice: User) -> None:
    email = email_in(Status.FAILED, alice, to="pat@x.example", reason="550 no such user")
    client = signed_in(alice)

    client.post(
        reverse("web:edit", args=[email.pk]),
        {
            "to": "pat@x.example",
            "subject": "Fixed",
            "body_text": "x",
            "time_zone": "UTC",
            "intent": "save",
        },
    )
    email.refresh_from_db()
    assert (email.status, email.subject) == (Status.FAILED, "Fixed")
    client.post(
        reverse("web:edit", args=[email.pk]),
        {
            "to": "pat@x.example",
            "subject": "Fixed",
            "body_text": "x",
            "time_zone": "UTC",
            "intent": "send",
        },
    )
    email.refresh_from_db()
    assert email.status == Status.SCHEDULED


def test_the_sign_in_page_is_the_front_door_with_a_favicon(db: None) -> None:
    page = Client().get(reverse("web:login")).content.decode()

    assert 'rel="icon"' in page and "favicon.svg" in page
    assert "front-door" in page and "Every email you send to prospects" in page
