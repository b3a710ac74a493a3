"""The links of each sent email, and how far the tracking spool has been read into events."""

from __future__ import annotations

import secrets

from django.db import models


def new_link_token() -> str:
    """An unguessable token: the only thing a tracked link carries."""
    return secrets.token_urlsafe(18)


class TrackedLink(models.Model):
    """One http(s) link of a sent email, recorded at send time: the click redirect goes
    only to `url`, never to anything taken from the request."""

    email = models.ForeignKey("outbox.Email", on_delete=models.CASCADE, related_name="links")
    token = models.CharField(max_length=32, unique=True, default=new_link_token)
    url = models.TextField()
    # The link's place in the email: HTML links first, then those of the text part.
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["email", "position"], name="tracked_link_position")
        ]

    def __str__(self) -> str:
        return f"{self.email_id}#{self.position}: {self.url}"


class SpoolCursor(models.Model):
    """How many bytes of one spool file have become events. It moves in the same transaction
    as the events it accounts for, so a crash replays exactly the hits not yet recorded."""

    name = models.CharField(max_length=200, unique=True)
    offset = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}@{self.offset}"
