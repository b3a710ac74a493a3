"""Campaigns, their ordered steps (with A/B variants), the people enrolled, and each user's
sending window and throttles."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from commandcenter.campaigns.states import LIVE, ExitReason, State


class Campaign(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        STOPPED = "stopped", _("Stopped")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="campaigns"
    )
    name = models.CharField(max_length=200)
    shared_with_team = models.BooleanField(default=False)
    skip_weekends = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    class Type(models.TextChoices):
        AUTO_EMAIL = "auto_email", _("Automatic email")
        MANUAL_EMAIL = "manual_email", _("Manual email")
        CALL = "call", _("Call")
        LINKEDIN = "linkedin", _("LinkedIn")
        CUSTOM = "custom", _("Custom task")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    # 0, 1, 2…: the order steps run in (several may share a campaign day).
    position = models.PositiveIntegerField()
    day = models.PositiveIntegerField(help_text="A day of the campaign: day 1 is the first.")
    type = models.CharField(max_length=20, choices=Type.choices)
    # A time of day in the recipient's zone; None: as soon as the day begins.
    time = models.TimeField(null=True, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    thread = models.BooleanField(default=False)
    # A task step's instructions (what to say on the call…).
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["campaign", "position"]

    def __str__(self) -> str:
        return self.label

    @property
    def is_email(self) -> bool:
        return self.type in {self.Type.AUTO_EMAIL, self.Type.MANUAL_EMAIL}

    @property
    def label(self) -> str:
        """ "Day 3 · Call", in the active language."""
        return gettext("Day %(day)d · %(type)s") % {
            "day": self.day,
            "type": self.get_type_display(),
        }


class Variant(models.Model):
    """One of an automatic email step's A/B versions; each enrolment gets one of them."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="variants")
    index = models.PositiveIntegerField()
    subject = models.CharField(max_length=998)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)

    class Meta:
        ordering = ["step", "index"]
        constraints = [
            models.UniqueConstraint(fields=["step", "index"], name="variant_unique_index")
        ]

    def __str__(self) -> str:
        return f"{self.step} variant {chr(65 + self.index)}"

    @property
    def letter(self) -> str:
        return chr(65 + self.index)


class Enrolment(models.Model):
    """One person in one campaign. `next_step` is the step they stand on: due at `next_at`
    (phase due); run and waiting for its email to be sent or its task to be done (waiting);
    or done since `next_at` (done: the sender or the task said so, campaigns/progress.py),
    for the engine to move on to the next step."""

    class Phase(models.TextChoices):
        DUE = "due", _("Due")
        WAITING = "waiting", _("Waiting")
        DONE = "done", _("Step done")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrolments")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="enrolments")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    reason = models.TextField(blank=True)
    # Why it exited, as a code for statistics (ExitReason); the words are in `reason`.
    exit_reason = models.CharField(max_length=20, choices=ExitReason.choices, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    # Day 1 of this person's campaign, a date in `zone`; every step's time comes from it.
    started_on = models.DateField()
    zone = models.CharField(max_length=64)
    enrolled_at = models.DateTimeField()
    variant_seed = models.PositiveIntegerField(default=0)
    next_step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.PROTECT)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.DUE)
    next_at = models.DateTimeField(null=True, blank=True)
    # The engine's claim (like an email's): who runs the step now, until when.
    claimed_by = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "person"],
                condition=Q(state__in=sorted(LIVE)),
                name="enrolment_once_at_a_time",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_at", "id"],
                name="enrolment_due",
                condition=Q(state=State.ACTIVE, phase="due"),
            ),
            models.Index(
                fields=["next_step"],
                name="enrolment_waiting",
                condition=Q(state=State.ACTIVE, phase="waiting"),
            ),
            models.Index(
                fields=["id"],
                name="enrolment_step_done",
                condition=Q(state=State.ACTIVE, phase="done"),
            ),
            models.Index(fields=["campaign", "state"], name="enrolment_campaign_state"),
            models.Index(fields=["person", "state"], name="enrolment_person_state"),
        ]

    def __str__(self) -> str:
        return f"{self.person} in {self.campaign}"


class EnrolmentEvent(models.Model):
    """Anything that happened to an enrolment: kept forever, like an email's events."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["enrolment", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_state}->{self.to_state}"


def default_days() -> list[int]:
    return [0, 1, 2, 3, 4]


class SendingPolicy(models.Model):
    """A user's sending window (days and hours in the recipient's zone) and throttles, for
    campaign emails; see campaigns/throttle.py for what they apply to."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sending_policy"
    )
    # Weekdays, Monday = 0.
    days = models.JSONField(default=default_days)
    start_time = models.TimeField(default=dt.time(8, 0))
    end_time = models.TimeField(default=dt.time(18, 0))
    daily_cap = models.PositiveIntegerField(null=True, blank=True)
    burst_count = models.PositiveIntegerField(null=True, blank=True)
    burst_seconds = models.PositiveIntegerField(null=True, blank=True)
    # How long an out-of-office reply pauses an enrolment when it names no return date.
    ooo_pause_days = models.PositiveIntegerField(default=7)

    def __str__(self) -> str:
        return f"sending policy of {self.user}"
