"""records.move_many: the sender's mass moves in plain SQL write what transition_many writes."""

from __future__ import annotations

import pytest

from commandcenter.accounts.models import User
from commandcenter.delivery.records import move_many
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status, transition_many

pytestmark = pytest.mark.django_db

# What differs between two emails made and moved one after the other.
MOMENTS = {"id", "updated_at", "sent_at", "sort_at", "created_at", "email_id", "send_at", "due_at"}


def claimed(user: User, to: str) -> Email:
    email = scheduled_email(user, to=to)
    transition_many(
        [email.pk],
        Status.IN_PROGRESS,
        source=Status.SCHEDULED,
        kind="claimed",
        updates={"claimed_by": "w1"},
    )
    return email


def columns(email: Email) -> dict[str, object]:
    row = Email.objects.filter(pk=email.pk).values().get()
    return {k: v for k, v in row.items() if k not in MOMENTS | {"to_address", "token", "person_id"}}


def event(email: Email) -> dict[str, object]:
    row = Event.objects.filter(email=email, kind="sent").values().get()
    return {k: v for k, v in row.items() if k not in MOMENTS}


def test_it_writes_the_same_columns_and_event_as_transition_many(alice: User) -> None:
    ours, reference = claimed(alice, "a@example.org"), claimed(alice, "b@example.org")

    moved = move_many(
        {ours.pk: {"smtp_reply": "250 ok"}},
        Status.DELIVERED,
        source=Status.IN_PROGRESS,
        claimed_by="w1",
        kind="sent",
        data={"worker": "w1"},
        updates={"lease_until": None},
    )
    transition_many(
        [reference.pk],
        Status.DELIVERED,
        source=Status.IN_PROGRESS,
        kind="sent",
        data={"worker": "w1"},
        data_by_email={reference.pk: {"smtp_reply": "250 ok"}},
        updates={"lease_until": None},
    )

    assert moved == [ours.pk]
    assert columns(ours) == columns(reference)
    assert columns(ours)["status"] == Status.DELIVERED
    assert event(ours) == event(reference)
    ours.refresh_from_db()
    assert ours.sent_at is not None and ours.sort_at == ours.sent_at


def test_it_moves_only_what_is_still_in_the_source_and_claimed_by_the_worker(
    alice: User,
) -> None:
    mine, theirs, gone = (claimed(alice, f"{n}@example.org") for n in "abc")
    Email.objects.filter(pk=theirs.pk).update(claimed_by="w2")
    Email.objects.filter(pk=gone.pk).update(status=Status.FAILED)

    moved = move_many(
        {mine.pk: {}, theirs.pk: {}, gone.pk: {}},
        Status.DELIVERED,
        source=Status.IN_PROGRESS,
        claimed_by="w1",
        kind="sent",
        data={},
    )

    assert moved == [mine.pk]
    assert Email.objects.get(pk=theirs.pk).status == Status.IN_PROGRESS
    assert Event.objects.filter(kind="sent").count() == 1


def test_it_refuses_a_move_the_table_does_not_allow(alice: User) -> None:
    email = scheduled_email(alice)

    with pytest.raises(ValueError, match="no move from scheduled to delivered"):
        move_many(
            {email.pk: {}},
            Status.DELIVERED,
            source=Status.SCHEDULED,
            claimed_by=None,
            kind="sent",
            data={},
        )

    assert Email.objects.get(pk=email.pk).status == Status.SCHEDULED
