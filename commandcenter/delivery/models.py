"""What the sender handed over: the exact bytes of each email's last message ("Show original")."""

from __future__ import annotations

import zlib

from django.db import models

# An 8 kB window (zlib's default is 32 kB) and a smaller hash table: a typical message
# compresses the same, in a third of the time. zlib.decompress reads any window size.
PACK_WINDOW_BITS = 13
PACK_MEMORY_LEVEL = 6


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
        # Fastest level, and a window and hash table for a message rather than zlib's
        # defaults (256 kB to set up for each call: most of the cost of a 2 kB message).
        packer = zlib.compressobj(1, zlib.DEFLATED, PACK_WINDOW_BITS, PACK_MEMORY_LEVEL)
        return packer.compress(raw) + packer.flush()

    @property
    def raw(self) -> bytes:
        return zlib.decompress(bytes(self.compressed))
