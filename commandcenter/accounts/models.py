"""Users (reps) and their teams. Admins see their team's data by "view as"."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import QuerySet


def new_api_token() -> str:
    return secrets.token_urlsafe(32)


def api_token_digest(token: str) -> str:
    """What is stored of an API token, and looked up: its SHA-256. A token holds 256 random
    bits, so a fast hash is enough; a slow one (as for passwords) would only slow the API."""
    return hashlib.sha256(token.encode()).hexdigest()


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    is_admin = models.BooleanField(
        default=False, help_text="May view as any user of the same team."
    )
    # The token itself is shown once, when made (accounts/services.issue_api_token); None:
    # the user has none yet, and the API refuses them.
    api_token_hash = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    signature = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=16, blank=True)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def can_view_as(self, other: User) -> bool:
        """True when this user may see `other`'s data: oneself, or a teammate for an admin."""
        if other.pk == self.pk:
            return True
        return self.is_admin and self.team_id is not None and other.team_id == self.team_id

    def viewable_users(self) -> QuerySet[User]:
        if self.is_admin and self.team_id is not None:
            return User.objects.filter(team_id=self.team_id)
        return User.objects.filter(pk=self.pk)
