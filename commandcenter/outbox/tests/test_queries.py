import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from commandcenter.outbox.models import Email
from commandcenter.outbox.queries import BadCursor, folder_counts, folder_page
from commandcenter.outbox.states import FOLDERS, Status
from commandcenter.outbox.tests.factories import email_in


def test_it_counts_every_folder_including_empty_ones(alice, bob):
    email_in(Status.FAILED, alice)
    email_in(Status.FAILED, alice, to="other@prospect.example")
    email_in(Status.DRAFT, bob)

    counts = folder_counts([alice.pk])

    assert set(counts) == set(FOLDERS)
    assert counts["failed"] == 2 and counts["draft"] == 0


def test_it_pages_through_a_folder_without_gaps_or_repeats(alice):
    base = timezone.now()
    for i in range(7):
        email = email_in(Status.DELIVERED, alice, to=f"p{i}@prospect.example")
        # Two share a timestamp: the id breaks the tie.
        Email.objects.filter(pk=email.pk).update(sort_at=base - dt.timedelta(minutes=i // 2))

    seen, cursor = [], None
    while True:
        page = folder_page([alice.pk], "delivered", cursor=cursor, limit=3)
        seen += [e.pk for e in page.emails]
        cursor = page.next_cursor
        if cursor is None:
            break

    expected = list(
        Email.objects.filter(owner=alice).order_by("-sort_at", "-id").values_list("pk", flat=True)
    )
    assert seen == expected


def test_it_searches_recipient_and_subject(alice):
    email_in(Status.DELIVERED, alice, to="zed@zeta.example")
    email_in(Status.DELIVERED, alice, to="amy@alpha.example")

    page = folder_page([alice.pk], "delivered", search="zeta")

    assert [e.to_address for e in page.emails] == ["zed@zeta.example"]


def cursor_of(*values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "eyJhIjoxfQ",
        cursor_of("2026-01-01T00:00:00", 5),  # no offset
        cursor_of("2026-01-01T00:00:00+00:00", 2**70),
        cursor_of("2026-01-01T00:00:00+00:00", -1),
        cursor_of("2026-01-01T00:00:00+00:00", "Infinity"),
    ],
)
def test_it_refuses_a_cursor_it_did_not_give_out(alice, cursor):
    with pytest.raises(BadCursor):
        folder_page([alice.pk], "delivered", cursor=cursor)


def test_it_refuses_an_unknown_folder(alice):
    with pytest.raises(ValueError, match="Unknown folder"):
        folder_page([alice.pk], "inbox")
