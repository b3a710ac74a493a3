import pytest
from django.utils import timezone

from commandcenter.outbox import actions
from commandcenter.outbox.actions import ACTIONS, ActionRefused
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.queries import folder_counts
from commandcenter.outbox.states import FOLDERS, Status
from commandcenter.outbox.tests.factories import email_in
from commandcenter.people.models import Person, Suppression
from commandcenter.people.services import NotAllowed, lift_suppression, set_do_not_contact

EXPECTED = {
    "delivered": {"archive"},
    "archived": {"unarchive", "delete"},
    "scheduled": {"edit", "delete"},
    "draft": {"edit", "delete"},
    "in_progress": set(),
    "failed": {"edit", "retry", "delete"},
    "bounced": {"retry", "delete"},
    "spam": {"retry", "delete"},
}


def test_it_offers_exactly_the_actions_of_the_design_table():
    assert {folder: set(ACTIONS[folder]) for folder in FOLDERS} == EXPECTED


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("action", ["archive", "unarchive", "retry", "delete"])
def test_it_runs_an_action_only_where_the_folder_offers_it(alice, folder, action):
    email = email_in(folder, alice)

    if action in EXPECTED[folder] and (folder, action) != ("spam", "retry"):
        actions.apply(email, action)
        assert Email.objects.get(pk=email.pk).status == actions.ACTION_TARGETS[action]
    else:
        with pytest.raises(ActionRefused, match=r"not possible|spam"):
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


def test_it_retries_and_no_longer_shows_the_old_failed_date(alice):
    email = email_in(Status.FAILED, alice)
    Email.objects.filter(pk=email.pk).update(failed_at=email.sort_at)
    email.refresh_from_db()

    actions.retry(email)

    assert Email.objects.get(pk=email.pk).failed_at is None


@pytest.mark.parametrize(
    ("block", "words"),
    [
        (
            lambda p: Person.objects.filter(pk=p.pk).update(unsubscribed_at=timezone.now()),
            "unsubscribed",
        ),
        (lambda p: set_do_not_contact(p, True, "asked us to stop"), "asked us to stop"),
        (
            lambda p: Suppression.objects.create(value=p.email, reason="hard bounce"),
            "suppression list",
        ),
    ],
)
def test_it_refuses_to_retry_for_someone_who_must_not_be_mailed(alice, block, words):
    email = email_in(Status.BOUNCED, alice)
    block(email.person)
    email = Email.objects.select_related("person").get(pk=email.pk)

    assert "retry" not in actions.actions_for(email)
    assert email.pk in actions.retry_refusals([email])
    with pytest.raises(ActionRefused, match=words):
        actions.retry(email)
    assert Email.objects.get(pk=email.pk).status == Status.BOUNCED


def test_it_never_retries_an_email_the_recipient_marked_as_spam(alice):
    email = email_in(Status.SPAM, alice)

    assert "retry" not in actions.actions_for(email)
    with pytest.raises(ActionRefused, match="marked this email as spam"):
        actions.retry(email)
    assert not Event.objects.filter(email=email, kind="retried").exists()


def test_it_retries_again_once_an_admin_lifted_the_suppression(alice, admin):
    email = email_in(Status.BOUNCED, alice)
    suppression = Suppression.objects.create(value=email.to_address, reason="hard bounce")
    with pytest.raises(NotAllowed):
        lift_suppression(alice, suppression, "they fixed their mailbox")

    event = lift_suppression(admin, suppression, "they fixed their mailbox")

    assert (event.kind, event.by, event.previous_reason) == ("lifted", admin, "hard bounce")
    assert not Suppression.objects.exists()
    actions.retry(Email.objects.get(pk=email.pk))
    assert Email.objects.get(pk=email.pk).status == Status.SCHEDULED
