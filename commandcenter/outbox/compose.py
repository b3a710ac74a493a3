"""Composing emails: single (send now, schedule, draft), Select and Send, and Group.

The web UI, the API and the CLI all call these functions; the rules live here only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.outbox.merge import missing_fields
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import Status, record_event, transition_or_raise
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reasons, normalise_address, people_by_address

MAX_SELECT_AND_SEND = 200
MAX_GROUP = 1000
MAX_SUBJECT = 998
MAX_BODY = 1_000_000
# A send time this far in the past is taken as "now" (clocks and forms are never exact).
PAST_SEND_AT_GRACE = dt.timedelta(minutes=5)


class ComposeError(Exception):
    """Bad compose input: `errors` maps a field name to a message for a person."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


@dataclass
class Content:
    subject: str
    body_text: str
    body_html: str = ""

    def check(self, errors: dict[str, str], *, draft: bool = False, prefix: str = "") -> None:
        if not isinstance(self.subject, str) or not self.subject.strip():
            errors[prefix + "subject"] = "A subject is required."
        elif len(self.subject) > MAX_SUBJECT or "\n" in self.subject or "\r" in self.subject:
            errors[prefix + "subject"] = (
                f"The subject must be one line of at most {MAX_SUBJECT} characters."
            )
        for name in ("body_text", "body_html"):
            value = getattr(self, name)
            if not isinstance(value, str):
                errors[prefix + name] = "Must be text."
            elif len(value) > MAX_BODY:
                errors[prefix + name] = f"At most {MAX_BODY:,} characters."
        if not draft and not (str(self.body_text).strip() or str(self.body_html).strip()):
            errors[prefix + "body_text"] = "The email has no body."


@dataclass
class Recipient:
    """One recipient of a bulk send; Select and Send may give each one its own content."""

    to: str
    content: Content | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_send_at(send_at: dt.datetime | None, errors: dict[str, str]) -> dt.datetime:
    now = timezone.now()
    if send_at is None:
        return now
    if timezone.is_naive(send_at):
        errors["send_at"] = "The send time needs a time zone (e.g. 2026-12-01T09:00:00+01:00)."
        return now
    if send_at < now - PAST_SEND_AT_GRACE:
        errors["send_at"] = "The send time is in the past."
    return max(send_at, now)


def _initial_state(
    person: Person, user: User, content: Content, blocked: Mapping[int, str], *, draft: bool
) -> tuple[str, str]:
    """The status a new email starts in, and its reason."""
    if draft:
        return Status.DRAFT, ""
    if person.pk in blocked:
        return Status.FAILED, blocked[person.pk]
    missing = missing_fields(person, user, content.subject, content.body_text, content.body_html)
    if missing:
        names = ", ".join(f"{{{{{name}}}}}" for name in missing)
        return Status.FAILED, f"Merge field {names} cannot be filled for this recipient."
    return Status.SCHEDULED, ""


def _new_email(
    user: User,
    person: Person,
    content: Content,
    send_at: dt.datetime,
    blocked: Mapping[int, str],
    *,
    draft: bool,
    batch: Batch | None = None,
) -> Email:
    status, reason = _initial_state(person, user, content, blocked, draft=draft)
    now = timezone.now()
    email = Email(
        owner=user,
        person=person,
        batch=batch,
        to_address=person.email,
        subject=content.subject,
        body_text=content.body_text,
        body_html=content.body_html,
        status=status,
        reason=reason,
        send_at=None if draft else send_at,
        due_at=send_at if status == Status.SCHEDULED else None,
        failed_at=now if status == Status.FAILED else None,
        sort_at=send_at if status == Status.SCHEDULED else now,
    )
    return email


def _save_with_events(emails: list[Email]) -> list[Email]:
    Email.objects.bulk_create(emails, batch_size=500)
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(
                email_id=email.pk,
                kind="failed" if email.status == Status.FAILED else "created",
                to_status=email.status,
                detail=email.reason,
                created_at=now,
            )
            for email in emails
        ],
        batch_size=500,
    )
    return emails


def compose_single(
    user: User,
    *,
    to: object,
    subject: str,
    body_text: str = "",
    body_html: str = "",
    send_at: dt.datetime | None = None,
    draft: bool = False,
) -> Email:
    """One email: sent now (no send_at), scheduled, or saved as a draft."""
    errors: dict[str, str] = {}
    content = Content(subject, body_text or "", body_html or "")
    content.check(errors, draft=draft)
    address = _address(to, errors, "to")
    when = resolve_send_at(send_at, errors)
    if errors:
        raise ComposeError(errors)
    with transaction.atomic():
        person = people_by_address(user, [address])[address]
        blocked = blocking_reasons([person])
        email = _new_email(user, person, content, when, blocked, draft=draft)
        return _save_with_events([email])[0]


def compose_bulk(
    user: User,
    *,
    mode: str,
    recipients: Sequence[Recipient],
    content: Content,
    send_at: dt.datetime | None = None,
) -> tuple[Batch, list[Email]]:
    """Select and Send (≤200, each copy editable) or Group (≤1,000, one content): one Batch.

    Neither kind can be a draft. Blocked recipients and unfillable merge fields do not stop
    the batch: those emails are created in Failed with the reason.
    """
    errors: dict[str, str] = {}
    limits: dict[str, int] = {
        Batch.Mode.SELECT_AND_SEND: MAX_SELECT_AND_SEND,
        Batch.Mode.GROUP: MAX_GROUP,
    }
    if mode not in limits:
        raise ComposeError({"mode": "Mode must be select_and_send or group."})
    content.check(errors)
    if not recipients:
        errors["to"] = "Choose at least one recipient."
    elif len(recipients) > limits[mode]:
        label = Batch.Mode(mode).label
        errors["to"] = (
            f"{label} allows at most {limits[mode]:,} recipients; got {len(recipients):,}."
        )
    addresses = _bulk_addresses(recipients, mode, errors)
    when = resolve_send_at(send_at, errors)
    if errors:
        raise ComposeError(errors)
    with transaction.atomic():
        people = people_by_address(user, addresses)
        blocked = blocking_reasons(people.values())
        batch = Batch.objects.create(
            owner=user, mode=mode, subject=content.subject, size=len(addresses)
        )
        emails = [
            _new_email(
                user,
                people[address],
                recipient.content or content,
                when,
                blocked,
                draft=False,
                batch=batch,
            )
            for address, recipient in zip(addresses, recipients, strict=True)
        ]
        return batch, _save_with_events(emails)


def _address(raw: object, errors: dict[str, str], key: str) -> str:
    try:
        return normalise_address(raw)
    except ValidationError as error:
        errors[key] = error.messages[0]
        return ""


def _bulk_addresses(
    recipients: Sequence[Recipient], mode: str, errors: dict[str, str]
) -> list[str]:
    addresses: list[str] = []
    seen: set[str] = set()
    for index, recipient in enumerate(recipients):
        address = _address(recipient.to, errors, f"to[{index}]")
        if address and address in seen:
            errors[f"to[{index}]"] = f"{address} is listed twice."
        seen.add(address)
        addresses.append(address)
        if recipient.content is not None:
            if mode == Batch.Mode.GROUP:
                errors[f"to[{index}]"] = "A group email has one content for all recipients."
            else:
                recipient.content.check(errors, prefix=f"to[{index}].")
    return addresses


EDITABLE = frozenset({Status.DRAFT, Status.SCHEDULED})


def edit_email(
    user: User,
    email: Email,
    *,
    to: object | None = None,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    send_at: dt.datetime | None = None,
    draft: bool | None = None,
) -> Email:
    """Change a draft or a scheduled email; `draft=False` schedules a draft, True unschedules."""
    if email.status not in EDITABLE:
        raise ComposeError({"status": f"A {email.get_status_display()} email cannot be edited."})
    becomes_draft = email.status == Status.DRAFT if draft is None else draft
    if becomes_draft and email.is_bulk:
        raise ComposeError({"draft": "Only single emails can be drafts."})
    errors: dict[str, str] = {}
    content = Content(
        email.subject if subject is None else subject,
        email.body_text if body_text is None else body_text,
        email.body_html if body_html is None else body_html,
    )
    content.check(errors, draft=becomes_draft)
    address = email.to_address if to is None else _address(to, errors, "to")
    if to is not None and email.is_bulk and address != email.to_address:
        errors["to"] = "The recipient of a bulk email cannot be changed."
    when = resolve_send_at(send_at, errors) if send_at is not None or not becomes_draft else None
    if errors:
        raise ComposeError(errors)
    with transaction.atomic():
        person = people_by_address(user, [address])[address]
        fields = {
            "person": person,
            "to_address": person.email,
            "subject": content.subject,
            "body_text": content.body_text,
            "body_html": content.body_html,
        }
        if becomes_draft:
            _move(email, Status.DRAFT, fields, kind="unscheduled")
        else:
            when = when or timezone.now()
            if send_at is None and email.status == Status.SCHEDULED and email.send_at:
                when = max(email.send_at, timezone.now())
            fields.update(send_at=when, due_at=when, sort_at=when, attempts=0, last_error="")
            _move(email, Status.SCHEDULED, fields, kind="scheduled")
    email.refresh_from_db()
    return email


def _move(email: Email, target: str, fields: dict[str, Any], *, kind: str) -> None:
    """Apply an edit; the status changes through the state machine, edits in place otherwise."""
    if email.status == target:
        # Conditional on the status: the sender may have claimed it a moment ago.
        changed = Email.objects.filter(pk=email.pk, status=target).update(
            updated_at=timezone.now(), **fields
        )
        if not changed:
            raise ComposeError({"status": "The email is being sent and can no longer be edited."})
        record_event(email.pk, "edited", status=target)
        return
    transition_or_raise(email, target, kind=kind, sources=[email.status], updates=fields)
