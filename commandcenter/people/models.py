"""Prospects (Person) and the addresses we must never mail (Suppression)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Person(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    do_not_contact = models.BooleanField(default=False)
    do_not_contact_reason = models.CharField(max_length=500, blank=True, default="")
    do_not_contact_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("owner", Lower("email"), name="person_unique_email_per_owner")
        ]
        indexes = [
            models.Index(fields=["owner", "email"]),
            # The search's "company is / is one of" (and title) compare lower-cased text: read
            # from these instead of lower-casing every person (and they give the planner the
            # numbers to see that a quarter of the people work at Acme or Globex).
            models.Index(Lower("company"), name="person_company_lower"),
            models.Index(Lower("title"), name="person_title_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Suppression(models.Model):
    """An address (or a whole domain) that no email may go to, with why and since when."""

    class Kind(models.TextChoices):
        ADDRESS = "address", "Address"
        DOMAIN = "domain", "Domain"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ADDRESS)
    value = models.CharField(
        max_length=254, unique=True, help_text="Lower-cased address or domain."
    )
    reason = models.CharField(max_length=500)
    source = models.CharField(max_length=50, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.value} ({self.reason})"


class SuppressionEvent(models.Model):
    """An address or domain put on the suppression list or lifted from it, by whom and why."""

    class Kind(models.TextChoices):
        ADDED = "added", "Added"
        LIFTED = "lifted", "Lifted"

    value = models.CharField(max_length=254, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=500)
    # The suppression's own reason at the time (what was lifted).
    previous_reason = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.value} {self.kind}: {self.reason}"
