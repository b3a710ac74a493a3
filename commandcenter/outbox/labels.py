"""The words for an email's status, translated when shown (one home for UI and domain messages)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from commandcenter.outbox.states import Status

# One email's status, as a word beside it (singular where the folder name is plural).
STATUS_LABELS: dict[str, Promise] = {
    Status.DELIVERED: _("Delivered"),
    Status.ARCHIVED: _("Archived"),
    Status.SCHEDULED: _("Scheduled"),
    Status.DRAFT: pgettext_lazy("status", "Draft"),
    Status.IN_PROGRESS: _("In Progress"),
    Status.FAILED: _("Failed"),
    Status.BOUNCED: _("Bounced"),
    Status.SPAM: _("Spam"),
    Status.DELETED: _("Deleted"),
}


def status_label(status: str | None) -> str:
    if not status:
        return str(_("gone"))
    return str(STATUS_LABELS.get(status, status))


# The quick actions, as their buttons say them.
ACTION_LABELS: dict[str, Promise] = {
    "archive": _("Archive"),
    "unarchive": _("Unarchive"),
    "retry": _("Retry Send"),
    "delete": _("Delete"),
    "edit": _("Edit"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
