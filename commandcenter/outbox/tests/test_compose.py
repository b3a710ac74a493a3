import datetime as dt

import pytest
from django.utils import timezone

from commandcenter.outbox.compose import (
    ComposeError,
    Content,
    Recipient,
    compose_bulk,
    compose_single,
    edit_email,
)
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression


def many(n, domain="prospect.example"):
    return [Recipient(f"p{i}@{domain}") for i in range(n)]


def test_it_schedules_a_single_email_for_now_and_creates_the_person(alice):
    email = compose_single(alice, to="Pat@Acme.example", subject="Hi", body_text="Hello")

    assert email.status == Status.SCHEDULED
    assert email.due_at is not None and email.due_at <= timezone.now()
    assert Person.objects.get(owner=alice).email == "pat@acme.example"
    assert Event.objects.get(email=email).kind == "created"


def test_it_finds_the_existing_person_by_address(alice):
    person = Person.objects.create(owner=alice, email="pat@acme.example", first_name="Pat")

    email = compose_single(alice, to="PAT@acme.example", subject="Hi", body_text="Hello")

    assert email.person == person


def test_it_schedules_for_later(alice):
    later = timezone.now() + dt.timedelta(days=2)

    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="x", send_at=later)

    assert email.send_at == later and email.due_at == later and email.sort_at == later


def test_it_saves_a_draft_with_only_a_subject_and_a_recipient(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Later", draft=True)

    assert email.status == Status.DRAFT
    assert email.due_at is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"to": "pat@acme.example", "subject": ""}, "subject"),
        ({"to": "", "subject": "Hi"}, "to"),
        ({"to": "not-an-address", "subject": "Hi"}, "to"),
        ({"to": None, "subject": "Hi"}, "to"),
    ],
)
def test_it_refuses_a_draft_without_subject_or_recipient(alice, kwargs, field):
    with pytest.raises(ComposeError) as caught:
        compose_single(alice, draft=True, **kwargs)

    assert field in caught.value.errors
    assert not Email.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"body_text": ""}, "body_text"),
        ({"subject": "two\nlines"}, "subject"),
        ({"subject": "x" * 999}, "subject"),
        ({"send_at": dt.datetime(2020, 1, 1)}, "send_at"),
        ({"send_at": timezone.now() - dt.timedelta(hours=1)}, "send_at"),
    ],
)
def test_it_refuses_bad_input_and_changes_nothing(alice, kwargs, field):
    arguments = {"to": "pat@acme.example", "subject": "Hi", "body_text": "Hello", **kwargs}

    with pytest.raises(ComposeError) as caught:
        compose_single(alice, **arguments)

    assert field in caught.value.errors
    assert not Email.objects.exists() and not Person.objects.exists()


def test_it_refuses_a_merge_field_that_would_be_empty_and_creates_nothing(alice):
    with pytest.raises(ComposeError) as caught:
        compose_single(alice, to="pat@acme.example", subject="Hi", body_text="{{industry}}")

    assert "{{industry}}" in caught.value.errors["merge"]
    assert "pat@acme.example" in caught.value.errors["merge"]
    assert caught.value.missing == {"pat@acme.example": ["industry"]}
    assert not Email.objects.exists() and not Person.objects.exists()


def test_it_keeps_what_the_rep_wrote_beside_what_the_recipient_gets(alice):
    Person.objects.create(owner=alice, email="pat@acme.example", first_name="Pat")

    email = compose_single(
        alice,
        to="pat@acme.example",
        subject="Hi {{first_name}}",
        body_text="Hello {{first_name}}, {{company | your team}}",
        body_html="<p>{{first_name}}</p>",
    )

    assert (email.subject, email.body_text, email.body_html) == (
        "Hi Pat",
        "Hello Pat, your team",
        "<p>Pat</p>",
    )
    assert (email.template_subject, email.template_body_text) == (
        "Hi {{first_name}}",
        "Hello {{first_name}}, {{company | your team}}",
    )


def test_it_fills_a_persons_field_from_the_form_and_sends(alice):
    email = compose_single(
        alice,
        to="new@acme.example",
        subject="Hi {{first_name}}",
        body_text="About {{industry}}",
        fill={"NEW@acme.example": {"first_name": "Nia", "industry": "rockets"}},
    )

    person = Person.objects.get(email="new@acme.example")
    assert (person.first_name, person.custom_fields) == ("Nia", {"industry": "rockets"})
    assert (email.status, email.subject, email.body_text) == (
        Status.SCHEDULED,
        "Hi Nia",
        "About rockets",
    )


def test_it_refuses_to_fill_a_field_a_person_cannot_have(alice):
    with pytest.raises(ComposeError, match="cannot be filled in"):
        compose_single(
            alice,
            to="a@x.example",
            subject="Hi",
            body_text="x",
            fill={"a@x.example": {"email": "b"}},
        )


def test_it_saves_a_draft_whose_field_is_empty_and_says_what_to_fill(alice):
    draft = compose_single(
        alice, to="new@acme.example", subject="Hi {{first_name}}", body_text="x", draft=True
    )

    assert draft.status == Status.DRAFT
    assert draft.subject == "Hi {{first_name}}"
    assert draft.reason == "Merge field {{first_name}} is empty for new@acme.example."
    with pytest.raises(ComposeError, match="first_name"):
        edit_email(alice, draft, draft=False)
    Person.objects.filter(email="new@acme.example").update(first_name="Nia")
    sent = edit_email(alice, draft, draft=False)
    assert (sent.status, sent.subject, sent.reason) == (Status.SCHEDULED, "Hi Nia", "")


def test_it_refuses_a_scheduled_edit_that_would_leave_a_field_empty(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="Hello")

    with pytest.raises(ComposeError, match="industry"):
        edit_email(alice, email, body_text="About {{industry}}")

    email.refresh_from_db()
    assert (email.body_text, email.template_body_text) == ("Hello", "Hello")


def test_it_refuses_a_whole_bulk_send_naming_everyone_with_an_empty_field(alice):
    Person.objects.create(owner=alice, email="ann@a.example", first_name="Ann")
    recipients = [Recipient("ann@a.example"), Recipient("ben@b.example"), Recipient("cy@c.example")]

    with pytest.raises(ComposeError) as caught:
        compose_bulk(
            alice, mode="group", recipients=recipients, content=Content("Hi {{first_name}}", "x")
        )

    errors = caught.value.errors
    assert "ben@b.example" in errors["merge"] and "cy@c.example" in errors["merge"]
    assert set(errors) == {"merge", "to[1]", "to[2]"}
    assert caught.value.missing == {"ben@b.example": ["first_name"], "cy@c.example": ["first_name"]}
    assert not Email.objects.exists() and not Batch.objects.exists()
    assert list(Person.objects.values_list("email", flat=True)) == ["ann@a.example"]


def test_it_does_not_hold_a_bulk_send_for_a_blocked_recipients_field(alice):
    Suppression.objects.create(value="ben@b.example", reason="hard bounce")
    Person.objects.create(owner=alice, email="ann@a.example", first_name="Ann")
    recipients = [Recipient("ann@a.example"), Recipient("ben@b.example")]

    _, emails = compose_bulk(
        alice, mode="group", recipients=recipients, content=Content("Hi {{first_name}}", "x")
    )

    assert [e.status for e in emails] == [Status.SCHEDULED, Status.FAILED]


def test_it_makes_the_plain_text_part_from_the_html_one(alice):
    email = compose_single(
        alice,
        to="pat@acme.example",
        subject="Hi",
        body_html='<div>Hello <strong>there</strong><br><br>See <a href="https://x.example/p">'
        "pricing</a></div><ul><li>one</li></ul>",
    )

    assert email.body_text == "Hello there\n\nSee pricing (https://x.example/p)\n\n  * one"


def test_it_edits_a_failed_email_and_sends_it_again(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="Hello")
    Email.objects.filter(pk=email.pk).update(status=Status.FAILED, reason="550 no such user")
    email.refresh_from_db()

    edited = edit_email(alice, email, to="pat@acme.example", body_text="Fixed")
    assert (edited.status, edited.body_text, edited.reason) == (
        Status.FAILED,
        "Fixed",
        "550 no such user",
    )
    again = edit_email(alice, edited, draft=False)
    assert (again.status, again.reason, again.failed_at) == (Status.SCHEDULED, "", None)
    assert Event.objects.filter(email=email, kind="retried").exists()


def test_it_refuses_to_send_again_an_edited_email_to_someone_who_unsubscribed(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="Hello")
    Person.objects.filter(pk=email.person_id).update(unsubscribed_at=timezone.now())
    Email.objects.filter(pk=email.pk).update(status=Status.FAILED, reason="x")
    email.refresh_from_db()

    with pytest.raises(ComposeError, match="unsubscribed"):
        edit_email(alice, email, draft=False)

    assert Email.objects.get(pk=email.pk).status == Status.FAILED


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (
            lambda p: Person.objects.filter(pk=p.pk).update(unsubscribed_at=timezone.now()),
            "unsubscribed",
        ),
        (lambda p: Person.objects.filter(pk=p.pk).update(do_not_contact=True), "do-not-contact"),
        (
            lambda p: Suppression.objects.create(value=p.email, reason="hard bounce"),
            "suppression list",
        ),
        (
            lambda p: Suppression.objects.create(
                kind="domain", value="acme.example", reason="competitor"
            ),
            "domain acme.example is blocked",
        ),
    ],
)
def test_it_fails_a_blocked_recipient_with_the_reason(alice, setup, words):
    setup(Person.objects.create(owner=alice, email="pat@acme.example"))

    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="Hello")

    assert email.status == Status.FAILED
    assert words in email.reason


def test_it_sends_a_group_email_to_1000_as_one_batch(alice):
    batch, emails = compose_bulk(
        alice, mode="group", recipients=many(1000), content=Content("Hi", "Hello")
    )

    assert batch.size == 1000 and len(emails) == 1000
    assert Email.objects.filter(batch=batch, status=Status.SCHEDULED).count() == 1000


@pytest.mark.parametrize(("mode", "limit"), [("group", 1000), ("select_and_send", 200)])
def test_it_refuses_one_recipient_over_the_limit(alice, mode, limit):
    with pytest.raises(ComposeError, match=f"at most {limit:,}"):
        compose_bulk(alice, mode=mode, recipients=many(limit + 1), content=Content("Hi", "x"))

    assert not Email.objects.exists() and not Batch.objects.exists()


def test_it_lets_select_and_send_edit_one_copy(alice):
    recipients = many(3)
    recipients[1].content = Content("Special for you", "Edited body")

    _, emails = compose_bulk(
        alice, mode="select_and_send", recipients=recipients, content=Content("Hi", "Hello")
    )

    assert [e.subject for e in emails] == ["Hi", "Special for you", "Hi"]
    assert emails[1].body_text == "Edited body"


def test_it_refuses_per_recipient_edits_in_a_group_email(alice):
    recipients = many(2)
    recipients[0].content = Content("Other", "x")

    with pytest.raises(ComposeError, match="one content"):
        compose_bulk(alice, mode="group", recipients=recipients, content=Content("Hi", "x"))


def test_it_refuses_a_recipient_listed_twice(alice):
    with pytest.raises(ComposeError, match="listed twice"):
        compose_bulk(
            alice,
            mode="group",
            recipients=[Recipient("a@x.example"), Recipient("A@x.example")],
            content=Content("Hi", "x"),
        )


def test_it_fails_blocked_recipients_in_bulk_and_sends_the_rest(alice):
    Suppression.objects.create(kind="domain", value="blocked.example", reason="blocked by admin")
    recipients = [Recipient("a@ok.example"), Recipient("b@blocked.example")]

    _, emails = compose_bulk(alice, mode="group", recipients=recipients, content=Content("Hi", "x"))

    assert [e.status for e in emails] == [Status.SCHEDULED, Status.FAILED]
    assert "blocked.example" in emails[1].reason


def test_it_never_makes_a_bulk_draft(alice):
    _, emails = compose_bulk(alice, mode="group", recipients=many(2), content=Content("Hi", "x"))

    with pytest.raises(ComposeError, match="Only single emails can be drafts"):
        edit_email(alice, emails[0], draft=True)


def test_it_edits_a_draft_then_schedules_it(alice):
    draft = compose_single(alice, to="pat@acme.example", subject="Draft", draft=True)

    edit_email(alice, draft, subject="Ready", body_text="Body")
    scheduled = edit_email(alice, draft, draft=False)

    assert scheduled.status == Status.SCHEDULED and scheduled.subject == "Ready"
    assert list(Event.objects.filter(email=draft).values_list("kind", flat=True)) == [
        "created",
        "edited",
        "scheduled",
    ]


def test_it_refuses_to_edit_a_delivered_email(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="x")
    Email.objects.filter(pk=email.pk).update(status=Status.DELIVERED)
    email.refresh_from_db()

    with pytest.raises(ComposeError, match="cannot be edited"):
        edit_email(alice, email, subject="Changed")


def test_it_refuses_an_edit_once_the_sender_has_claimed_it(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="x")
    Email.objects.filter(pk=email.pk).update(status=Status.IN_PROGRESS)  # claimed meanwhile

    with pytest.raises(ComposeError, match="being sent"):
        edit_email(alice, email, subject="Changed")

    assert Email.objects.get(pk=email.pk).subject == "Hi"
