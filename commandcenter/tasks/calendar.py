"""A user's open tasks as an iCalendar feed (RFC 5545), built with the icalendar library."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from icalendar import Calendar, Event

from commandcenter.accounts.models import User
from commandcenter.lib.zones import zone
from commandcenter.tasks.models import CalendarFeed, Task
from commandcenter.tasks.states import TaskStatus

TIMED_TASK_MINUTES = 15
MAX_FEED_TASKS = 5000


def feed_for(user: User) -> CalendarFeed:
    feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


def renew_feed(user: User) -> CalendarFeed:
    """A new secret URL; the old one stops working at once."""
    feed = feed_for(user)
    feed.token = CalendarFeed._meta.get_field("token").get_default()
    feed.save(update_fields=["token", "created_at"])
    return feed


def user_for_feed(token: str) -> User | None:
    if not token or len(token) > 64:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    return feed.user if feed is not None and feed.user.is_active else None


def calendar_bytes(user: User) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Command Center//Tasks//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Tasks of {user.display_name}")
    tasks = (
        Task.objects.filter(assignee=user, status=TaskStatus.OPEN)
        .select_related("person")
        .order_by("due_at")[:MAX_FEED_TASKS]
    )
    for task in tasks:
        calendar.add_component(_event(task, user))
    return calendar.to_ical()


def _event(task: Task, user: User) -> Event:
    event = Event()
    event.add("uid", f"task-{task.pk}@{settings.BOUNCE_DOMAIN}")
    event.add("dtstamp", task.updated_at)
    who = f" — {task.person}" if task.person else ""
    event.add("summary", f"{task.get_type_display()}: {task.title or task.get_type_display()}{who}")
    if task.all_day:
        day = task.due_at.astimezone(zone(user.time_zone)).date()
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
    else:
        event.add("dtstart", task.due_at)
        event.add("dtend", task.due_at + dt.timedelta(minutes=TIMED_TASK_MINUTES))
    if task.notes:
        event.add("description", task.notes)
    if task.priority == Task.Priority.HIGH:
        event.add("priority", 1)
    return event
