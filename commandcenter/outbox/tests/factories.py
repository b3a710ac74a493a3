"""Helpers to put an email straight into any status, for tests of what happens next."""

from __future__ import annotations

from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.services import people_by_address


def email_in(status: str, owner: User, to: str = "pat@prospect.example") -> Email:
    person = people_by_address(owner, [to])[to]
    now = timezone.now()
    return Email.objects.create(
        owner=owner,
        person=person,
        to_address=to,
        subject="Quick question",
        body_text="Hello",
        status=status,
        send_at=now,
        due_at=now if status == Status.SCHEDULED else None,
        sent_at=now if status in {Status.DELIVERED, Status.ARCHIVED} else None,
        sort_at=now,
    )
