import pytest

from commandcenter.outbox import actions
from commandcenter.outbox.actions import ACTIONS, ActionRefused
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.queries import folder_counts
from commandcenter.outbox.states import FOLDERS, Status
from commandcenter.outbox.tests.factories import email_in

EXPECTED = {
    "delivered": {"archive"},
    "archived": {"unarchive", "delete"},
    "scheduled": {"edit", "delete"},
    "draft": {"edit", "delete"},
    "in_progress": set(),
    "failed": {"retry", "delete"},
    "bounced": {"retry", "delete"},
    "spam": {"retry", "delete"},
}


def test_it_offers_exactly_the_actions_of_the_design_table():
    assert {folder: set(ACTIONS[folder]) for folder in FOLDERS} == EXPECTED


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("action", ["archive", "unarchive", "retry", "delete"])
def test_it_runs_an_action_only_where_the_folder_offers_it(alice, folder, action):
    email = email_in(folder, alice)

    if action in EXPECTED[folder]:
        actions.apply(email, action)
        assert Email.objects.get(pk=email.pk).status == actions.ACTION_TARGETS[action]
    else:
        with pytest.raises(ActionRefused, match="not possible"):
            actions.apply(email, action)
        assert Email.objects.get(pk=email.pk).status == folder


def test_it_retries_with_a_fresh_start(alice):
    email = email_in(Status.BOUNCED, alice)
    Email.objects.filter(pk=email.pk).update(attempts=5, reason="550 no such user")
    email.refresh_from_db()

    actions.retry(email)

    email.refresh_from_db()
    assert (email.status, email.attempts, email.reason) == (Status.SCHEDULED, 0, "")
    event = Event.objects.get(email=email, kind="retried")
    assert event.data["previous_reason"] == "550 no such user"


def test_it_hides_a_deleted_email_but_keeps_its_events(alice):
    email = email_in(Status.FAILED, alice)

    actions.delete(email)

    assert folder_counts([alice.pk])["failed"] == 0
    assert not Email.objects.owned_by(alice.pk).exists()
    assert Event.objects.filter(email=email, kind="deleted").exists()


def test_it_puts_an_unarchived_email_back_in_delivered_order(alice):
    email = email_in(Status.ARCHIVED, alice)

    actions.unarchive(email)

    email.refresh_from_db()
    assert email.status == Status.DELIVERED and email.sort_at == email.sent_at
