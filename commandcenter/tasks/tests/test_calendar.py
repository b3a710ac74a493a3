"""The calendar feed: a secret URL with the user's open tasks, parseable, revocable."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from commandcenter.accounts.models import User
from commandcenter.tasks import calendar, services

pytestmark = pytest.mark.django_db


def test_it_serves_open_tasks_and_a_new_address_revokes_the_old(
    client: Client, alice: User, bob: User
) -> None:
    due = dt.datetime(2026, 5, 4, 14, 0, tzinfo=dt.UTC)
    open_task = services.create_task(
        alice,
        services.TaskFields(type="call", due_at=due, title="Call <Pat>", person="pat@x.example"),
    )
    done = services.create_task(alice, services.TaskFields(type="custom", due_at=due, title="Done"))
    services.complete(alice, [done])
    services.create_task(bob, services.TaskFields(type="call", due_at=due, title="Bob's"))
    token = calendar.feed_for(alice).token
    response = client.get(reverse("web:calendar_feed", args=[token]))
    assert response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["Call: Call <Pat> — pat@x.example"]
    assert events[0].decoded("dtstart") == due
    assert str(events[0]["uid"]).startswith(f"task-{open_task.pk}@")
    calendar.renew_feed(alice)
    assert client.get(reverse("web:calendar_feed", args=[token])).status_code == 404
    assert client.get(reverse("web:calendar_feed", args=["x" * 30])).status_code == 404
