"""Emails, the batches they were sent in, and the events that happened to them."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from commandcenter.outbox.states import Status


def new_token() -> str:
    """The per-email token carried by the envelope sender (VERP) and tracking links."""
    return secrets.token_urlsafe(18)


class Batch(models.Model):
    """The emails of one Select-and-Send or Group send."""

    class Mode(models.TextChoices):
        SELECT_AND_SEND = "select_and_send", "Select and Send"
        GROUP = "group", "Group"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    mode = models.CharField(max_length=20, choices=Mode.choices)
    subject = models.CharField(max_length=998)
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_mode_display()} of {self.size}: {self.subject}"


class EmailQuerySet(models.QuerySet["Email"]):
    def visible(self) -> EmailQuerySet:
        return self.exclude(status=Status.DELETED)

    def owned_by(self, user_id: int) -> EmailQuerySet:
        return self.filter(owner_id=user_id).visible()


class Email(models.Model):
    """One message to one recipient. `status` is its folder and its job state in the queue."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="emails"
    )
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="emails")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT)
    to_address = models.EmailField(max_length=254)
    # What the recipient gets (or, until it is sent, would get): every merge field filled.
    subject = models.CharField(max_length=998)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # The same as the rep wrote it, merge fields and all: what an edit or a retry starts from.
    template_subject = models.CharField(max_length=998, blank=True, default="")
    template_body_text = models.TextField(blank=True, default="")
    template_body_html = models.TextField(blank=True, default="")
    # The saved template it was started from, if any (for the template's statistics).
    template = models.ForeignKey(
        "mailtemplates.Template",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
    )

    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.TextField(blank=True, help_text="Why it is where it is, for a person to read.")
    token = models.CharField(max_length=32, unique=True, default=new_token)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    send_at = models.DateTimeField(null=True, blank=True, help_text="When the user wants it sent.")
    # The time zone the send time was chosen in ("" = the rep's own), to show it back that way.
    send_zone = models.CharField(max_length=64, blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the sender next tries.")
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # The date the email's folder is sorted by (sent, scheduled for, failed, last edited).
    sort_at = models.DateTimeField()

    # The sender's bookkeeping.
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Set, and committed, just before the SMTP transaction for this email starts: after a
    # crash it tells "provably never started" (safe to send again) from "delivery unknown".
    handoff_started_at = models.DateTimeField(null=True, blank=True)

    # A campaign email: the campaign, step, enrolment and A/B variant it was made for.
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT
    )
    step = models.ForeignKey("campaigns.Step", null=True, blank=True, on_delete=models.PROTECT)
    enrolment = models.ForeignKey(
        "campaigns.Enrolment", null=True, blank=True, on_delete=models.PROTECT
    )
    variant = models.ForeignKey(
        "campaigns.Variant", null=True, blank=True, on_delete=models.PROTECT
    )
    # A threaded follow-up: the Message-IDs of the thread so far (References), oldest first;
    # the last one is its In-Reply-To.
    reference_ids = models.TextField(blank=True)

    # Engagement counters (human events only); derived from events.
    opens = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)

    objects = EmailQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["owner", "status", "-sort_at", "-id"], name="email_folder_page"),
            models.Index(
                fields=["due_at", "id"],
                name="email_due",
                condition=Q(status=Status.SCHEDULED),
            ),
            models.Index(fields=["campaign", "step"], name="email_campaign_step"),
            models.Index(
                fields=["lease_until"],
                name="email_in_progress",
                condition=Q(status=Status.IN_PROGRESS),
            ),
        ]

        constraints = [
            # The engine makes a step's email once, however often it runs (crash safety).
            models.UniqueConstraint(
                fields=["enrolment", "step"],
                condition=Q(enrolment__isnull=False),
                name="email_once_per_enrolment_step",
            )
        ]

    def __str__(self) -> str:
        return f"{self.to_address}: {self.subject}"

    @property
    def folder(self) -> str:
        return self.status

    def written(self) -> tuple[str, str, str]:
        """Subject, text and HTML as the rep wrote them (merge fields and all). A row made
        without them (by hand, or before they were kept) is its own template."""
        if self.template_subject or self.template_body_text or self.template_body_html:
            return self.template_subject, self.template_body_text, self.template_body_html
        return self.subject, self.body_text, self.body_html

    @property
    def is_bulk(self) -> bool:
        return self.batch_id is not None


class Event(models.Model):
    """Anything that happened to an email, kept forever with its raw payload."""

    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    detail = models.TextField(blank=True)
    payload = models.TextField(
        blank=True, help_text="The raw input: SMTP reply, DSN, webhook body…"
    )
    data = models.JSONField(default=dict, blank=True)
    # For signals from outside: the same inbound message or webhook twice records one event.
    dedupe_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["email", "created_at"])]
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="event_dedupe_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


class FolderCount(models.Model):
    """How many emails an owner has in a status, folded from the deltas (see counts.py)."""

    owner_id = models.BigIntegerField()
    status = models.CharField(max_length=20)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner_id", "status"], name="foldercount_unique")
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.status}: {self.n}"


class FolderCountDelta(models.Model):
    """+1 / -1 for one status of one owner, appended by the database's own triggers."""

    owner_id = models.BigIntegerField()
    status = models.CharField(max_length=20)
    delta = models.SmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner_id"], name="foldercountdelta_owner")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.status}: {self.delta:+d}"


class MergeDefault(models.Model):
    """A rep's value for a merge field that a person leaves empty ("there" for first_name)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merge_defaults"
    )
    field = models.CharField(max_length=64)
    value = models.CharField(max_length=1000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "field"], name="mergedefault_unique")
        ]

    def __str__(self) -> str:
        return f"{{{{{self.field}}}}} = {self.value}"
