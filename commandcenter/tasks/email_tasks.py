"""An Email task is done by writing the email: compose opens filled in for the person (from
the campaign step's template when it has one), and sending it completes the task."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.tasks import services
from commandcenter.tasks.models import Task
from commandcenter.tasks.states import TaskStatus


def open_email_task(user: User, raw_id: str) -> Task | None:
    if not raw_id.isdigit() or len(raw_id) > 18:
        return None
    return (
        Task.objects.select_related("person", "step")
        .filter(pk=int(raw_id), assignee=user, status=TaskStatus.OPEN, type=Task.Type.EMAIL)
        .exclude(person=None)
        .first()
    )


def compose_initial(task: Task) -> dict[str, Any]:
    """What compose starts with: the person, and the step's template (merge fields are
    filled when the email is sent, by the same rule as every email)."""
    assert task.person is not None
    initial: dict[str, Any] = {"to": task.person.email}
    if task.step is not None:
        initial.update(
            subject=task.step.subject, body_text=task.step.body_text, body_html=task.step.body_html
        )
    return initial


def email_sent_for(user: User, task: Task, email: Email) -> None:
    """The email was composed: it belongs to the task's campaign step, and the task is done."""
    if task.enrolment_id is not None and task.step_id is not None:
        try:
            with transaction.atomic():
                Email.objects.filter(pk=email.pk).update(
                    campaign_id=task.campaign_id,
                    step_id=task.step_id,
                    enrolment_id=task.enrolment_id,
                )
        except IntegrityError:
            pass  # the step already has its email (composed twice): this one stays the rep's own
    services.complete(user, [task], email_id=email.pk)
