"""Inbound mail as it arrived (every message once), and the IMAP mailboxes we poll for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class InboundMessage(models.Model):
    """One inbound message, stored once (unique on the SHA-256 of its bytes), matched or not."""

    sha256 = models.CharField(max_length=64, unique=True)
    raw = models.BinaryField()
    source = models.CharField(max_length=100, help_text="stdin, smtp, imap:<account id>…")
    envelope_sender = models.CharField(max_length=998, blank=True)
    envelope_recipient = models.CharField(max_length=998, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    kind = models.CharField(max_length=20)
    classification = models.JSONField(default=dict)
    email = models.ForeignKey(
        "outbox.Email",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
        help_text="The email it is about (the first, when a report names several).",
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["received_at"])]

    def __str__(self) -> str:
        return f"{self.kind} from {self.source} at {self.received_at:%Y-%m-%d %H:%M}"


class ImapAccount(models.Model):
    """A rep's mailbox, polled for replies, bounces and auto-replies by `imap-poll`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imap_accounts"
    )
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    username = models.CharField(max_length=255)
    password = models.CharField(max_length=255)
    ssl = models.BooleanField(default=True)
    folder = models.CharField(max_length=255, default="INBOX")
    # The highest UID applied so far, and the UIDVALIDITY it belongs to: when the server
    # renumbers the folder, the UIDs start over.
    last_uid = models.PositiveBigIntegerField(default=0)
    uid_validity = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"
