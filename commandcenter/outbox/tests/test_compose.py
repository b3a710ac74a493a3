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


def test_it_fails_an_email_whose_merge_field_cannot_be_filled(alice):
    email = compose_single(alice, to="pat@acme.example", subject="Hi", body_text="{{industry}}")

    assert email.status == Status.FAILED
    assert "{{industry}}" in email.reason


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
