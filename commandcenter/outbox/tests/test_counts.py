import pytest
from django.db import connection

from commandcenter.outbox import actions, counts
from commandcenter.outbox.models import Email, FolderCount, FolderCountDelta
from commandcenter.outbox.queries import folder_counts
from commandcenter.outbox.states import Status, transition
from commandcenter.outbox.tests.factories import email_in


def truth(owner_ids):
    exact = dict.fromkeys(folder_counts(owner_ids), 0)
    for status in Email.objects.filter(owner_id__in=owner_ids).values_list("status", flat=True):
        if status in exact:
            exact[status] += 1
    return exact


def test_it_counts_inserts_moves_and_deletes_exactly(alice, bob):
    first = email_in(Status.SCHEDULED, alice)
    email_in(Status.SCHEDULED, alice, to="two@prospect.example")
    email_in(Status.DRAFT, bob)

    transition(first.pk, Status.IN_PROGRESS, kind="claimed")
    transition(first.pk, Status.DELIVERED, kind="sent")
    Email.objects.filter(pk=first.pk).update(subject="no status change")
    Email.objects.filter(owner=bob).delete()

    assert folder_counts([alice.pk]) == truth([alice.pk])
    assert folder_counts([alice.pk])["delivered"] == 1
    assert folder_counts([bob.pk]) == truth([bob.pk]) == dict.fromkeys(truth([bob.pk]), 0)


def test_it_keeps_counts_exact_across_compaction(alice):
    emails = [email_in(Status.FAILED, alice, to=f"p{i}@prospect.example") for i in range(5)]
    before = folder_counts([alice.pk])

    folded = counts.compact()
    actions.retry(emails[0])
    after_retry = folder_counts([alice.pk])
    counts.compact()

    assert folded >= 5 and not FolderCountDelta.objects.filter(status="failed").exists()
    assert before["failed"] == 5
    assert after_retry == truth([alice.pk]) == folder_counts([alice.pk])
    assert FolderCount.objects.get(owner_id=alice.pk, status="failed").n == 4


def test_it_compacts_by_itself_when_deltas_pile_up(alice, monkeypatch):
    monkeypatch.setattr(counts, "COMPACT_AFTER", 3)
    for i in range(5):
        email_in(Status.DRAFT, alice, to=f"p{i}@prospect.example")

    assert folder_counts([alice.pk])["draft"] == 5
    assert not FolderCountDelta.objects.exists()
    assert folder_counts([alice.pk])["draft"] == 5


def test_it_sums_several_owners_for_a_team_view(alice, bob):
    email_in(Status.DRAFT, alice)
    email_in(Status.DRAFT, bob)

    assert folder_counts([alice.pk, bob.pk])["draft"] == 2


def test_it_recounts_from_scratch(alice):
    email_in(Status.SPAM, alice)
    FolderCountDelta.objects.all().delete()  # as if the triggers had been off

    counts.rebuild()

    assert folder_counts([alice.pk])["spam"] == 1


@pytest.mark.django_db(transaction=True)
def test_it_counts_rows_written_outside_the_orm(alice):
    email = email_in(Status.SCHEDULED, alice)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE outbox_email SET status = 'failed' WHERE id = %s", [email.pk])

    assert folder_counts([alice.pk])["failed"] == 1
    assert folder_counts([alice.pk])["scheduled"] == 0
