"""Claims on PostgreSQL skip the rows another worker is claiming right now."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from commandcenter.accounts.models import User
from commandcenter.delivery.queue import claim_due
from commandcenter.delivery.testing import database_url
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SKIP LOCKED is PostgreSQL's; SQLite serializes claims with IMMEDIATE",
    ),
]


def test_it_skips_rows_locked_by_another_claim(alice: User) -> None:
    locked, free = scheduled_email(alice, to="a@example.org"), scheduled_email(alice)
    url = database_url(connection.settings_dict).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as other:
        # Another worker, mid-claim, holds this row.
        other.execute("SELECT id FROM outbox_email WHERE id = %s FOR UPDATE", [locked.pk])
        with connection.cursor() as cursor:
            # A claim that waited for the lock would fail here instead of hanging.
            cursor.execute("SET lock_timeout = '2s'")
        try:
            assert claim_due("me", limit=10, lease_seconds=60) == [free.pk]
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")

    assert Email.objects.get(pk=locked.pk).status == Status.SCHEDULED
    assert claim_due("me", limit=10, lease_seconds=60) == [locked.pk]
