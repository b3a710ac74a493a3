"""record_signals(): the many-at-once door that tracking hits go through."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commandcenter.outbox.models import Email, Event
from commandcenter.signals.record import Signal, record_signals


def test_it_records_each_signal_at_its_own_time_and_adds_to_the_counters(email: Email) -> None:
    at = timezone.now() - dt.timedelta(minutes=5)
    recorded = record_signals(
        [
            Signal(email.pk, "opened", counter="opens", at=at),
            Signal(email.pk, "opened", counter="opens"),
            Signal(email.pk, "opened", data={"machine": True}),
            Signal(email.pk, "clicked", counter="clicks"),
        ]
    )
    assert recorded == 4
    email.refresh_from_db()
    assert (email.opens, email.clicks) == (2, 1)
    events = Event.objects.filter(email=email, kind__in=["opened", "clicked"])
    assert events.count() == 4
    assert events.filter(created_at=at).count() == 1
    assert {(e.from_status, e.to_status) for e in events} == {("delivered", "delivered")}


def test_it_drops_signals_for_emails_that_do_not_exist(email: Email) -> None:
    assert record_signals([Signal(email.pk + 1000, "opened", counter="opens")]) == 0
    assert not Event.objects.filter(kind="opened").exists()


def test_it_refuses_an_unknown_counter_and_records_nothing(email: Email) -> None:
    with pytest.raises(ValueError, match="unknown counter"):
        record_signals([Signal(email.pk, "opened"), Signal(email.pk, "opened", counter="views")])
    assert not Event.objects.filter(kind="opened").exists()
