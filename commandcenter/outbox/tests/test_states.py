from itertools import product

import pytest

from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import (
    ALLOWED,
    FOLDERS,
    IllegalTransition,
    Status,
    is_allowed,
    transition,
    transition_or_raise,
)
from commandcenter.outbox.tests.factories import email_in

ALL = [s.value for s in Status]
PAIRS = list(product(ALL, ALL))


def test_it_names_the_eight_folders_of_the_contract():
    assert set(FOLDERS) == {
        "delivered",
        "archived",
        "scheduled",
        "draft",
        "in_progress",
        "failed",
        "bounced",
        "spam",
    }


@pytest.mark.parametrize(("source", "target"), [p for p in PAIRS if is_allowed(*p)])
def test_it_makes_every_allowed_move_and_records_it(alice, source, target):
    email = email_in(source, alice)

    assert transition(email.pk, target, kind="test", reason="because")

    email.refresh_from_db()
    assert email.status == target
    event = Event.objects.get(email=email)
    assert (event.from_status, event.to_status, event.detail) == (source, target, "because")


@pytest.mark.parametrize(("source", "target"), [p for p in PAIRS if not is_allowed(*p)])
def test_it_refuses_every_forbidden_move_and_changes_nothing(alice, source, target):
    email = email_in(source, alice)

    assert not transition(email.pk, target, kind="test")
    with pytest.raises(IllegalTransition):
        transition_or_raise(email, target, kind="test")

    email.refresh_from_db()
    assert email.status == source
    assert not Event.objects.filter(email=email).exists()


def test_it_lets_only_one_of_two_racing_moves_win(alice):
    email = email_in(Status.SCHEDULED, alice)

    first = transition(email.pk, Status.IN_PROGRESS, kind="claimed")
    second = transition(email.pk, Status.IN_PROGRESS, kind="claimed")

    assert (first, second) == (True, False)
    assert Event.objects.filter(email=email, kind="claimed").count() == 1


def test_it_never_widens_the_table_with_sources(alice):
    email = email_in(Status.DRAFT, alice)

    assert not transition(email.pk, Status.DELIVERED, kind="test", sources=[Status.DRAFT])
    assert Email.objects.get(pk=email.pk).status == Status.DRAFT


def test_it_stamps_the_folder_date_on_entering_a_folder(alice):
    email = email_in(Status.IN_PROGRESS, alice)

    transition(email.pk, Status.FAILED, kind="failed", reason="550 no such user")

    email.refresh_from_db()
    assert email.failed_at is not None
    assert email.sort_at == email.failed_at
    assert email.reason == "550 no such user"


def test_it_explains_an_illegal_move_in_words(alice):
    email = email_in(Status.DELIVERED, alice)

    with pytest.raises(IllegalTransition, match="Delivered; it cannot become Draft"):
        transition_or_raise(email, Status.DRAFT, kind="test")


def test_every_status_appears_in_the_table():
    assert set(ALLOWED) == set(ALL)
