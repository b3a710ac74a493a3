"""states.transition_many: the sender's bulk, conditional move (claims, recovery, outcomes)."""

from __future__ import annotations

import pytest
from django.db.models import Q

from commandcenter.accounts.models import User
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, transition_many

pytestmark = pytest.mark.django_db


def test_it_moves_only_the_emails_in_the_source_status(alice: User) -> None:
    first, second = scheduled_email(alice, to="a@example.org"), scheduled_email(alice)
    Email.objects.filter(pk=second.pk).update(status=Status.DRAFT)

    moved = transition_many(
        [first.pk, second.pk],
        Status.IN_PROGRESS,
        source=Status.SCHEDULED,
        kind="claimed",
        updates={"claimed_by": "w1"},
    )

    assert moved == [first.pk]
    first.refresh_from_db()
    assert (first.status, first.claimed_by) == (Status.IN_PROGRESS, "w1")
    event = first.events.get(kind="claimed")
    assert (event.from_status, event.to_status) == (Status.SCHEDULED, Status.IN_PROGRESS)
    assert not Email.objects.get(pk=second.pk).events.filter(kind="claimed").exists()


def test_it_moves_nothing_that_does_not_match_where(alice: User) -> None:
    email = scheduled_email(alice)
    transition_many([email.pk], Status.IN_PROGRESS, source=Status.SCHEDULED, kind="claimed")

    moved = transition_many(
        [email.pk],
        Status.DELIVERED,
        source=Status.IN_PROGRESS,
        kind="sent",
        where=Q(claimed_by="someone-else"),
    )

    assert moved == []
    assert Email.objects.get(pk=email.pk).status == Status.IN_PROGRESS
    assert not email.events.filter(kind="sent").exists()


def test_it_stamps_the_folder_date_of_the_target(alice: User) -> None:
    email = scheduled_email(alice)
    transition_many([email.pk], Status.IN_PROGRESS, source=Status.SCHEDULED, kind="claimed")

    transition_many([email.pk], Status.FAILED, source=Status.IN_PROGRESS, kind="failed")

    email.refresh_from_db()
    assert email.failed_at is not None
    assert email.sort_at == email.failed_at


def test_it_refuses_a_move_the_table_does_not_allow(alice: User) -> None:
    email = scheduled_email(alice)

    with pytest.raises(ValueError, match="no move from scheduled to delivered"):
        transition_many([email.pk], Status.DELIVERED, source=Status.SCHEDULED, kind="sent")

    assert Email.objects.get(pk=email.pk).status == Status.SCHEDULED
