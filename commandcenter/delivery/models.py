"""What the sender handed over: the exact bytes of each email's last message ("Show original")."""

from __future__ import annotations

import zlib

from django.db import models


class SentMessage(models.Model):
    """The message of an email's last handoff, as it went to the mail server.

    Kept rather than rebuilt: the Date header, the MIME boundaries, the tracking tokens and the
    rep's name in From are fixed at send time and could not be made again byte for byte.
    Stored zlib-compressed (a message is mostly text: about a third of its size).
    """

    class Via(models.TextChoices):
        SMTP = "smtp", "SMTP"
        BACKEND = "backend", "Email backend"

    email = models.OneToOneField(
        "outbox.Email", on_delete=models.CASCADE, primary_key=True, related_name="sent_message"
    )
    compressed = models.BinaryField()
    # SMTP: these bytes are what the server received. Another backend (an ESP) builds its
    # own MIME from the same parts; these are then our rendition of it.
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.SMTP)
    handed_over_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"message of email {self.email_id}"

    @staticmethod
    def pack(raw: bytes) -> bytes:
        return zlib.compress(raw, 1)

    @property
    def raw(self) -> bytes:
        return zlib.decompress(bytes(self.compressed))
