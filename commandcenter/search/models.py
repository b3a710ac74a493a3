"""Saved searches (dynamic lists), who has looked at them when, and what joined them.

A saved search stores its filter document as it came (filters.py validates it); its results
and counts are computed when read, always current. `Member` rows are kept as signals land
(live.py), so that a row that joined since the owner last looked can be marked and the live
feed can say so within seconds. `Engagement` holds what the email table does not: opens and
clicks including machine ones, and when the first human one came (kept by database triggers,
engagement.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedSearch(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=200)
    filter = models.JSONField(help_text="The versioned filter document (search/filters.py).")
    results = models.CharField(max_length=10, default="emails")
    sort = models.CharField(max_length=20, blank=True)
    # Shared with the owner's team: each teammate sees only the emails they may see.
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_search_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """An email that matches a saved search (in the search's owner's scope), since when."""

    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="members")
    email = models.ForeignKey("outbox.Email", on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["search", "email"], name="search_member_unique")
        ]
        indexes = [models.Index(fields=["email"], name="search_member_email")]

    def __str__(self) -> str:
        return f"{self.search_id}: {self.email_id}"


class Seen(models.Model):
    """When a user last looked at a saved search: rows that joined later are marked new."""

    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["search", "user"], name="search_seen_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.search_id} at {self.seen_at}"


class FeedItem(models.Model):
    """An email joined or left a saved search: what the live feed streams besides events."""

    class Kind(models.TextChoices):
        JOINED = "joined", "Joined"
        LEFT = "left", "Left"

    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="+")
    email = models.ForeignKey("outbox.Email", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.email_id} {self.kind} {self.search_id}"


class Engagement(models.Model):
    """Per email, what the counters on the email leave out. Written only by triggers."""

    email = models.OneToOneField(
        "outbox.Email",
        on_delete=models.DO_NOTHING,
        primary_key=True,
        related_name="engagement",
        db_constraint=False,
    )
    # The email's owner, so that a rep's rows are one range of the index below.
    owner_id = models.BigIntegerField()
    # Opens and clicks with machine ones (prefetches, scanners); the sender's own left out.
    opens_all = models.PositiveIntegerField(default=0)
    clicks_all = models.PositiveIntegerField(default=0)
    # Seconds from delivery to the first human open / click / reply ("within N days").
    first_open_after = models.FloatField(null=True)
    first_click_after = models.FloatField(null=True)
    first_reply_after = models.FloatField(null=True)

    class Meta:
        indexes = [
            # A rep's rows in email order, every column with them: the ids a filter takes
            # from here come out sorted, so SQLite builds the IN (subquery) list by appending
            # (in column order it was a random insert per id: half a filter's time at 100,000
            # emails), and no row of the table itself is read.
            models.Index(
                fields=[
                    "owner_id",
                    "email",
                    "opens_all",
                    "clicks_all",
                    "first_open_after",
                    "first_click_after",
                    "first_reply_after",
                ],
                name="search_engagement_owner_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email_id}: {self.opens_all} opens, {self.clicks_all} clicks"
