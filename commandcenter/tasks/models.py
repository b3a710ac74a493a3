"""Tasks: the rep's to-do list (calls, LinkedIn messages, emails to write, anything else)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from commandcenter.tasks.states import TaskStatus


class Task(models.Model):
    class Type(models.TextChoices):
        EMAIL = "email", _("Email")
        CALL = "call", _("Call")
        LINKEDIN = "linkedin", _("LinkedIn")
        CUSTOM = "custom", _("Custom")

    class Priority(models.TextChoices):
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")

    class Outcome(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        VOICEMAIL = "voicemail", _("Left voicemail")
        NO_ANSWER = "no_answer", _("No answer")
        BUSY = "busy", _("Busy")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        OTHER = "other", _("Other")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_tasks"
    )
    # Whose list it is on (the owner, or the teammate it was reassigned to).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks"
    )
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    title = models.CharField(max_length=300, blank=True)
    due_at = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    outcome_notes = models.TextField(blank=True)
    # Why it was skipped or completed by the system ("campaign ended: Pat replied").
    reason = models.TextField(blank=True)
    # Origin: by hand (all three empty), or a campaign step of an enrolment.
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT
    )
    step = models.ForeignKey("campaigns.Step", null=True, blank=True, on_delete=models.PROTECT)
    enrolment = models.ForeignKey(
        "campaigns.Enrolment", null=True, blank=True, on_delete=models.PROTECT
    )
    # The email sent to do an Email task (compose with ?task=ID).
    email = models.ForeignKey("outbox.Email", null=True, blank=True, on_delete=models.SET_NULL)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # The engine makes a step's task once, however often it runs (crash safety).
            models.UniqueConstraint(
                fields=["enrolment", "step"],
                condition=Q(enrolment__isnull=False),
                name="task_once_per_enrolment_step",
            )
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_list"),
            models.Index(fields=["person", "created_at"], name="task_person"),
        ]

    def __str__(self) -> str:
        return self.title or self.get_type_display()

    @property
    def is_by_hand(self) -> bool:
        return self.enrolment_id is None


class TaskEvent(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """A user's secret calendar URL; a new token revokes the old one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"calendar of {self.user}"
