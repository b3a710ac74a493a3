"""Email templates: a subject and bodies with merge fields, the rep's own or shared with the team.

An email started from a template keeps a link to it (Email.template), so each template can
say how its emails do. Campaign steps use the same templates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from commandcenter.accounts.models import User


class TemplateQuerySet(models.QuerySet["Template"]):
    def usable_by(self, user: User) -> TemplateQuerySet:
        """The user's own templates and those their teammates share."""
        mine = Q(owner=user)
        if user.team_id is None:
            return self.filter(mine)
        return self.filter(mine | Q(shared=True, owner__team_id=user.team_id))


class Template(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_templates"
    )
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=998)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    shared = models.BooleanField(default=False, help_text="Teammates may use it too.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TemplateQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="template_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name
