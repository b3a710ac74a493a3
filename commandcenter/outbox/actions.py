"""The quick actions of DESIGN's table: Archive, Unarchive, Retry Send, Delete (and Edit).

Each checks the action table, then moves the email through the state machine; an action the
email's folder does not offer raises ActionRefused with a message for the rep. Retry Send is
offered only where trying again can succeed: never to a recipient who complained (Spam), who
unsubscribed, is marked do-not-contact or is on the suppression list (`retry_refusal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.utils import timezone
from django.utils.translation import gettext as _

from commandcenter.outbox.labels import action_label, status_label
from commandcenter.outbox.models import Email
from commandcenter.outbox.reasons import explain_text
from commandcenter.outbox.states import IllegalTransition, Status, transition_or_raise
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reason, blocking_reasons

# folder: the actions it offers (Edit is compose.edit_email; a failed email can be edited
# to fix a merge field or the address before it is sent again).
ACTIONS: dict[str, frozenset[str]] = {
    Status.DELIVERED: frozenset({"archive"}),
    Status.ARCHIVED: frozenset({"unarchive", "delete"}),
    Status.SCHEDULED: frozenset({"edit", "delete"}),
    Status.DRAFT: frozenset({"edit", "delete"}),
    Status.IN_PROGRESS: frozenset(),
    Status.FAILED: frozenset({"edit", "retry", "delete"}),
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
        self.action = action
        self.args = (why,)

    def __str__(self) -> str:
        return str(self.args[0])


def retry_refusal(
    email: Email, *, person: Person | None = None, blocked: Mapping[int, str] | None = None
) -> str | None:
    """Why Retry Send cannot succeed for this email (in the rep's language), or None.

    `blocked` (person id -> reason, from people.services.blocking_reasons) saves the queries
    when many emails are asked about at once.
    """
    if email.status == Status.SPAM:
        return _("%(to)s marked this email as spam: it will not be sent to them again.") % {
            "to": email.to_address
        }
    person = person or email.person
    reason = blocked.get(person.pk) if blocked is not None else blocking_reason(person)
    if reason:
        return _("Retry Send would fail: %(reason)s") % {"reason": explain_text(reason)}
    return None


def retry_refusals(emails: Iterable[Email]) -> dict[int, str]:
    """retry_refusal for a page of emails in two queries: email id -> why, refused ones only."""
    candidates = [e for e in emails if "retry" in ACTIONS.get(e.status, frozenset())]
    if not candidates:
        return {}
    blocked = blocking_reasons(e.person for e in candidates)
    refusals = {}
    for email in candidates:
        why = retry_refusal(email, blocked=blocked)
        if why:
            refusals[email.pk] = why
    return refusals


def actions_for(email: Email, refusals: Mapping[int, str] | None = None) -> frozenset[str]:
    """The actions this email offers: its folder's, less a Retry Send that cannot succeed
    (`refusals` from retry_refusals; asked for this one email when not given), and no Delete
    for a campaign email (the campaign owns it: removing the person takes it out)."""
    actions = ACTIONS.get(email.status, frozenset())
    if email.campaign_id is not None:
        actions = actions - {"delete"}
    if "retry" in actions:
        refused = email.pk in refusals if refusals is not None else retry_refusal(email) is not None
        if refused:
            actions = actions - {"retry"}
    return actions


def _check(email: Email, action: str) -> None:
    if action == "retry" and "retry" in ACTIONS.get(email.status, frozenset()):
        why = retry_refusal(email)
        if why:
            raise ActionRefused(email, action, why)
    if action not in ACTIONS.get(email.status, frozenset()):
        raise ActionRefused(
            email,
            action,
            _("%(action)s is not possible for a %(folder)s email.")
            % {"action": action_label(action), "folder": status_label(email.status)},
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
    """Retry Send: back to Scheduled, due now, with a fresh attempt count. The old failure
    is history now (its Event keeps it): the email no longer shows a failed date."""
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
            "send_zone": "",
            "failed_at": None,
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
        raise ActionRefused(email, action, _("Unknown action %(action)r.") % {"action": action})
    return handlers[action](email)
