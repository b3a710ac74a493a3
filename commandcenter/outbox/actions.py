"""The quick actions of DESIGN's table: Archive, Unarchive, Retry Send, Delete.

Each checks the action table, then moves the email through the state machine; an action the
email's folder does not offer raises IllegalTransition with a message for the rep.
"""

from __future__ import annotations

from django.utils import timezone

from commandcenter.outbox.models import Email
from commandcenter.outbox.states import IllegalTransition, Status, transition_or_raise

# folder: the actions it offers (Edit is compose.edit_email).
ACTIONS: dict[str, frozenset[str]] = {
    Status.DELIVERED: frozenset({"archive"}),
    Status.ARCHIVED: frozenset({"unarchive", "delete"}),
    Status.SCHEDULED: frozenset({"edit", "delete"}),
    Status.DRAFT: frozenset({"edit", "delete"}),
    Status.IN_PROGRESS: frozenset(),
    Status.FAILED: frozenset({"retry", "delete"}),
    Status.BOUNCED: frozenset({"retry", "delete"}),
    Status.SPAM: frozenset({"retry", "delete"}),
}

ACTION_TARGETS = {
    "archive": Status.ARCHIVED,
    "unarchive": Status.DELIVERED,
    "retry": Status.SCHEDULED,
    "delete": Status.DELETED,
}


class ActionRefused(IllegalTransition):
    def __init__(self, email: Email, action: str, why: str) -> None:
        super().__init__(email.pk, email.status, ACTION_TARGETS.get(action, Status.DELETED))
        self.args = (why,)

    def __str__(self) -> str:
        return str(self.args[0])


def actions_for(email: Email) -> frozenset[str]:
    actions = ACTIONS.get(email.status, frozenset())
    # The campaign owns its emails: no Delete is offered for them.
    return actions - {"delete"} if email.campaign_id is not None else actions


def _check(email: Email, action: str) -> None:
    if action not in actions_for(email):
        folder = Status(email.status).label if email.status in Status.values else email.status
        raise ActionRefused(
            email, action, f"{action.title()} is not possible for a {folder} email."
        )


def archive(email: Email) -> Email:
    """Archive a delivered email: it leaves Delivered and its tracking stops."""
    _check(email, "archive")
    transition_or_raise(email, Status.ARCHIVED, kind="archived")
    return email


def unarchive(email: Email) -> Email:
    _check(email, "unarchive")
    transition_or_raise(
        email,
        Status.DELIVERED,
        kind="unarchived",
        updates={"sent_at": email.sent_at, "sort_at": email.sent_at},
    )
    return email


def retry(email: Email) -> Email:
    """Retry Send: back to Scheduled, due now, with a fresh attempt count."""
    _check(email, "retry")
    now = timezone.now()
    transition_or_raise(
        email,
        Status.SCHEDULED,
        kind="retried",
        data={"previous_reason": email.reason},
        updates={
            "send_at": now,
            "due_at": now,
            "sort_at": now,
            "attempts": 0,
            "last_error": "",
            "handoff_started_at": None,
            "lease_until": None,
            "claimed_by": "",
        },
    )
    return email


def delete(email: Email) -> Email:
    """Delete: hidden from every folder; its events are kept. A campaign's emails cannot be
    deleted: removing the person from the campaign takes them out."""
    if email.campaign_id is not None:
        raise ActionRefused(
            email,
            "delete",
            "A campaign email cannot be deleted; remove the person from the campaign instead.",
        )
    _check(email, "delete")
    transition_or_raise(email, Status.DELETED, kind="deleted")
    return email


def apply(email: Email, action: str) -> Email:
    """Run a quick action by name (for bulk actions on a selection of rows)."""
    handlers = {"archive": archive, "unarchive": unarchive, "retry": retry, "delete": delete}
    if action not in handlers:
        raise ActionRefused(email, action, f"Unknown action {action!r}.")
    return handlers[action](email)
