"""Putting emails straight into a folder, for tests of what the web UI shows and does."""

from __future__ import annotations

from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.services import people_by_address


def email_in(
    status: str,
    owner: User,
    to: str = "pat@prospect.example",
    subject: str = "Quick question",
    **fields: object,
) -> Email:
    person = people_by_address(owner, [to])[to]
    now = timezone.now()
    email = Email.objects.create(
        owner=owner,
        person=person,
        to_address=to,
        subject=subject,
        body_text="Hello",
        status=status,
        send_at=now,
        due_at=now if status == Status.SCHEDULED else None,
        sent_at=now if status in {Status.DELIVERED, Status.ARCHIVED} else None,
        failed_at=now if status in {Status.FAILED, Status.BOUNCED, Status.SPAM} else None,
        sort_at=now,
        **fields,
    )
    Event.objects.create(email=email, kind="created", to_status=status, created_at=now)
    return email
