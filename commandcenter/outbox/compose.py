"""Composing emails: single (send now, schedule, draft), Select and Send, Group, and edits.

The web UI, the API and the CLI all call these functions; the rules live here only.

Merge fields follow the one rule of merge.py, checked before anything is created: a field that
would come out empty for a recipient refuses the whole send with a ComposeError that names
the fields and the people (`error.missing`: address -> field names, for a form to offer the
fixes). A draft is the exception that proves the rule: it is saved, and its reason says what
must be filled before it can be sent. Each email keeps its content twice: as the rep wrote it
(template_*) and as its recipient gets it (subject, body_text, body_html).

For one step of a campaign (or anything else that sends to one person), call
`merge.render_for(user, person, subject, body_text, body_html)`: the same rule, one person.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import html2text
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from commandcenter.accounts.models import User
from commandcenter.outbox.actions import retry_refusal
from commandcenter.outbox.labels import status_label
from commandcenter.outbox.merge import (
    FILLABLE_PERSON_FIELDS,
    STANDARD_FIELDS,
    Rendered,
    defaults_for,
    is_field_name,
    missing_reason,
    placeholder,
    render_parts,
)
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import Status, record_event, transition_or_raise
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reasons, normalise_address, people_by_address

if TYPE_CHECKING:
    from commandcenter.mailtemplates.models import Template

MAX_SELECT_AND_SEND = 200
MAX_GROUP = 1000
MAX_SUBJECT = 998
MAX_BODY = 1_000_000
MAX_FILL_VALUE = 1000
# A send time this far in the past is taken as "now" (clocks and forms are never exact).
PAST_SEND_AT_GRACE = dt.timedelta(minutes=5)
# "[pricing](https://…)" from html2text, written the way a plain-text email says it.
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")

# {address: {field: value}}: merge fields the rep fills for people from the compose form.
Fills = Mapping[str, Mapping[str, str]]


class ComposeError(Exception):
    """Bad compose input: `errors` maps a field name to a message for a person.

    `missing` (address -> field names) lists the recipients whose merge fields would come
    out empty, so that a form can offer to fill them.
    """

    def __init__(
        self, errors: Mapping[str, str], *, missing: Mapping[str, list[str]] | None = None
    ) -> None:
        self.errors = dict(errors)
        self.missing = dict(missing or {})
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


def text_from_html(body_html: str) -> str:
    """The plain-text part of an HTML body: paragraphs, lists and "link (address)"."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_emphasis = True
    converter.ignore_images = True
    converter.single_line_break = False
    text = converter.handle(body_html or "")

    def link(match: re.Match[str]) -> str:
        words, url = match.group(1).strip(), match.group(2)
        return url if words in {"", url, url.removeprefix("mailto:")} else f"{words} ({url})"

    text = MARKDOWN_LINK.sub(link, text)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass
class Content:
    subject: str
    body_text: str
    body_html: str = ""

    def check(self, errors: dict[str, str], *, draft: bool = False, prefix: str = "") -> None:
        if not isinstance(self.subject, str) or not self.subject.strip():
            errors[prefix + "subject"] = _("A subject is required.")
        elif len(self.subject) > MAX_SUBJECT or "\n" in self.subject or "\r" in self.subject:
            errors[prefix + "subject"] = _(
                "The subject must be one line of at most %(n)d characters."
            ) % {"n": MAX_SUBJECT}
        for name in ("body_text", "body_html"):
            value = getattr(self, name)
            if not isinstance(value, str):
                errors[prefix + name] = _("Must be text.")
            elif len(value) > MAX_BODY:
                errors[prefix + name] = _("At most %(n)s characters.") % {"n": f"{MAX_BODY:,}"}
        if not draft and not (str(self.body_text).strip() or str(self.body_html).strip()):
            errors[prefix + "body_text"] = _("The email has no body.")

    def completed(self) -> Content:
        """With a plain-text part made from the HTML one when the rep wrote only HTML."""
        html_only = (
            isinstance(self.body_html, str)
            and bool(self.body_html.strip())
            and isinstance(self.body_text, str)
            and not self.body_text.strip()
        )
        if html_only:
            return Content(self.subject, text_from_html(self.body_html), self.body_html)
        return self


@dataclass
class Recipient:
    """One recipient of a bulk send; Select and Send may give each one its own content, and
    thread it onto an earlier email to that person (`thread`: the follow-up answers it)."""

    to: str
    content: Content | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    thread: Email | None = None


# -- threads --------------------------------------------------------------------------------
# One rule for every follow-up that continues a conversation (a campaign's threaded step, the
# search's follow-up): the subject answers the earlier one, and the headers name the thread.


def thread_references(previous: Email) -> str:
    """The References of a follow-up to `previous`: its own, then its Message-ID (the
    sender turns the last one into In-Reply-To: delivery.message.thread_headers)."""
    return " ".join(part for part in (previous.reference_ids, previous.message_id) if part)


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def first_reply_subject(threads: Iterable[Email]) -> str:
    """The shared subject of a follow-up to several threads when the rep gives none: the
    answer to the first (each threaded copy answers its own anyway); "" for no thread."""
    first = next(iter(threads), None)
    return reply_subject(first.subject) if first else ""


def threaded_content(content: Content, previous: Email) -> Content:
    """A follow-up's content: the body as written, the subject answering `previous`."""
    return Content(reply_subject(previous.subject), content.body_text, content.body_html)


def thread_refusal(user: User, address: str, previous: Email) -> str:
    """Why a follow-up to `address` cannot be threaded onto `previous` ("" if it can)."""
    if previous.owner_id != user.pk or previous.to_address.lower() != address.lower():
        return _("Only an email of yours to this person can be answered.")
    if not previous.message_id:
        return _("This email was never sent, so there is no thread to answer.")
    return ""


def resolve_send_at(send_at: dt.datetime | None, errors: dict[str, str]) -> dt.datetime:
    now = timezone.now()
    if send_at is None:
        return now
    if timezone.is_naive(send_at):
        errors["send_at"] = _("The send time needs a time zone (e.g. 2026-12-01T09:00:00+01:00).")
        return now
    if send_at < now - PAST_SEND_AT_GRACE:
        errors["send_at"] = _("The send time is in the past.")
    return max(send_at, now)


# -- merge fields ---------------------------------------------------------------------------


def missing_message(fields: Sequence[str], people: Sequence[str]) -> str:
    """What the rep reads when merge fields would come out empty (in their language)."""
    names = ", ".join(placeholder(name) for name in fields)
    example = placeholder(f"{fields[0]} | …") if fields else ""
    return ngettext(
        "%(fields)s would be empty for %(people)s. Give it a fallback such as %(example)s, "
        "fill it in for this person, or set a default in Settings.",
        "%(fields)s would be empty for %(people)s. Give them fallbacks such as %(example)s, "
        "fill them in for these people, or set defaults in Settings.",
        len(fields) * len(people),
    ) % {"fields": names, "people": ", ".join(people), "example": example}


def check_fills(fills: Fills, errors: dict[str, str]) -> dict[str, dict[str, str]]:
    """The rep's fills with addresses normalised; bad names or values go to `errors`."""
    checked: dict[str, dict[str, str]] = {}
    for raw_address, values in fills.items():
        address = _address(raw_address, errors, "fill")
        for name, value in values.items():
            derived = name in STANDARD_FIELDS and name not in FILLABLE_PERSON_FIELDS
            if not is_field_name(name) or derived:
                errors["fill"] = _("%(field)s cannot be filled in for a person.") % {
                    "field": placeholder(str(name)[:64])
                }
            elif not isinstance(value, str) or len(value) > MAX_FILL_VALUE:
                errors["fill"] = _("A filled-in value is text of at most %(n)d characters.") % {
                    "n": MAX_FILL_VALUE
                }
            elif value.strip() and address:
                checked.setdefault(address, {})[name] = value.strip()
    return checked


def apply_fills(person: Person, values: Mapping[str, str]) -> None:
    """Give the person the merge-field values the rep filled in from the compose form."""
    if not values:
        return
    custom = dict(person.custom_fields or {})
    for name, value in values.items():
        if name in FILLABLE_PERSON_FIELDS:
            setattr(person, name, value)
        else:
            custom[name] = value
    person.custom_fields = custom
    person.save()


@dataclass
class Prepared:
    """One email about to be created: its person, content as written, and as rendered."""

    person: Person
    content: Content
    rendered: Rendered
    missing: list[str]


def _prepare(user: User, person: Person, content: Content, defaults: Mapping[str, str]) -> Prepared:
    rendered, missing = render_parts(
        person, user, content.subject, content.body_text, content.body_html, defaults=defaults
    )
    return Prepared(person, content, rendered, missing)


def _refuse_missing(problems: Sequence[tuple[str, Prepared]]) -> None:
    """ComposeError for the recipients (error key, prepared email) whose fields are empty."""
    if not problems:
        return
    errors: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for key, prepared in problems:
        address = prepared.person.email
        errors[key] = missing_message(prepared.missing, [address])
        missing[address] = prepared.missing
    if len(problems) > 1 or "merge" not in errors:
        fields = list(dict.fromkeys(name for names in missing.values() for name in names))
        errors = {"merge": missing_message(fields, list(missing)), **errors}
    raise ComposeError(errors, missing=missing)


# -- creating -------------------------------------------------------------------------------


def _new_email(
    user: User,
    prepared: Prepared,
    send_at: dt.datetime,
    blocked: Mapping[int, str],
    *,
    draft: bool,
    batch: Batch | None = None,
    template: Template | None = None,
    send_zone: str = "",
    references: str = "",
) -> Email:
    person, content, rendered = prepared.person, prepared.content, prepared.rendered
    if draft:
        status = Status.DRAFT
        reason = missing_reason(prepared.missing, [person.email]) if prepared.missing else ""
    elif person.pk in blocked:
        status, reason = Status.FAILED, blocked[person.pk]
    elif prepared.missing:
        # Only for sends nobody watches (compose_bulk's fail_unfillable): no blank field goes
        # out, and the email says which one.
        status, reason = Status.FAILED, missing_reason(prepared.missing, [person.email])
    else:
        status, reason = Status.SCHEDULED, ""
    now = timezone.now()
    return Email(
        owner=user,
        person=person,
        batch=batch,
        template=template,
        to_address=person.email,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        template_subject=content.subject,
        template_body_text=content.body_text,
        template_body_html=content.body_html,
        status=status,
        reason=reason,
        send_at=None if draft else send_at,
        send_zone=send_zone[:64],
        due_at=send_at if status == Status.SCHEDULED else None,
        failed_at=now if status == Status.FAILED else None,
        sort_at=send_at if status == Status.SCHEDULED else now,
        reference_ids=references,
    )


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
    send_zone: str = "",
    template: Template | None = None,
    fill: Fills | None = None,
) -> Email:
    """One email: sent now (no send_at), scheduled, or saved as a draft.

    `fill` gives people merge-field values first ({address: {field: value}}), as the compose
    form's "fill it in" does; they are saved only when the email is.
    """
    errors: dict[str, str] = {}
    content = Content(subject, body_text or "", body_html or "")
    content.check(errors, draft=draft)
    content = content.completed()
    address = _address(to, errors, "to")
    fills = check_fills(fill or {}, errors)
    when = resolve_send_at(send_at, errors)
    if errors:
        raise ComposeError(errors)
    with transaction.atomic():
        # Raising below rolls back the person made for a new address, and the fills.
        person = people_by_address(user, [address])[address]
        apply_fills(person, fills.get(address, {}))
        blocked = blocking_reasons([person])
        prepared = _prepare(user, person, content, defaults_for(user))
        if not draft and person.pk not in blocked:
            _refuse_missing([("merge", prepared)] if prepared.missing else [])
        email = _new_email(
            user, prepared, when, blocked, draft=draft, template=template, send_zone=send_zone
        )
        return _save_with_events([email])[0]


def compose_bulk(
    user: User,
    *,
    mode: str,
    recipients: Sequence[Recipient],
    content: Content,
    send_at: dt.datetime | None = None,
    send_zone: str = "",
    template: Template | None = None,
    fill: Fills | None = None,
    fail_unfillable: bool = False,
) -> tuple[Batch, list[Email]]:
    """Select and Send (≤200, each copy editable) or Group (≤1,000, one content): one Batch.

    Neither kind can be a draft. A merge field that would come out empty for anyone refuses
    the whole batch (nothing is created); blocked recipients do not stop it: their emails are
    created in Failed with the reason. `fail_unfillable` is for sends no person is there to
    fix: the email of a recipient whose field would be empty is created in Failed, naming
    the field, and the others go on.
    """
    errors: dict[str, str] = {}
    content, addresses = _check_bulk(mode, recipients, content, errors)
    _check_threads(user, mode, recipients, addresses, errors)
    fills = check_fills(fill or {}, errors)
    when = resolve_send_at(send_at, errors)
    if errors:
        raise ComposeError(errors)
    with transaction.atomic():
        people = people_by_address(user, addresses)
        for address, values in fills.items():
            if address in people:
                apply_fills(people[address], values)
        prepared, blocked = _prepare_bulk(
            user,
            [people[address] for address in addresses],
            [copy_content(recipient, content) for recipient in recipients],
            fail_unfillable=fail_unfillable,
        )
        batch = Batch.objects.create(
            owner=user, mode=mode, subject=content.subject, size=len(addresses)
        )
        emails = [
            _new_email(
                user,
                item,
                when,
                blocked,
                draft=False,
                batch=batch,
                template=template,
                send_zone=send_zone,
                references=thread_references(recipient.thread) if recipient.thread else "",
            )
            for item, recipient in zip(prepared, recipients, strict=True)
        ]
        return batch, _save_with_events(emails)


@dataclass(frozen=True)
class StepMarks:
    """What an email made for a campaign step carries besides its content, set as it is
    created: its campaign, step, variant and enrolment, the thread it continues, and the
    time the step was planned for (its send time when it is Scheduled)."""

    campaign_id: int
    step_id: int
    enrolment_id: int
    due_at: dt.datetime
    variant_id: int | None = None
    reference_ids: str = ""


def compose_step_emails(
    user: User, people: Sequence[Person], content: Content, marks: Sequence[StepMarks]
) -> list[Email]:
    """One campaign step's emails to up to MAX_GROUP of the user's people: a Group send's
    rules (the same merge, blocked recipients Failed with the reason) but no batch — a
    campaign's emails are not rolled up in the folders. The engine runs unattended, so an
    email whose merge field would be empty is created in Failed, naming the field, and the
    others go on. In the caller's transaction."""
    if len(marks) != len(people) or any(person.owner_id != user.pk for person in people):
        raise ValueError("one StepMarks for each of the user's people")
    errors: dict[str, str] = {}
    content, _addresses = _check_bulk(
        Batch.Mode.GROUP, [Recipient(person.email) for person in people], content, errors
    )
    if errors:
        raise ComposeError(errors)
    with transaction.atomic(savepoint=False):
        prepared, blocked = _prepare_bulk(
            user, people, [content] * len(people), fail_unfillable=True
        )
        emails = [
            _marked(_new_email(user, item, mark.due_at, blocked, draft=False), mark)
            for item, mark in zip(prepared, marks, strict=True)
        ]
        return _save_with_events(emails)


def _marked(email: Email, marks: StepMarks) -> Email:
    email.campaign_id, email.step_id = marks.campaign_id, marks.step_id
    email.enrolment_id, email.variant_id = marks.enrolment_id, marks.variant_id
    email.reference_ids = marks.reference_ids
    return email


def _check_bulk(
    mode: str, recipients: Sequence[Recipient], content: Content, errors: dict[str, str]
) -> tuple[Content, list[str]]:
    """The mode, the content and the recipients of a bulk send; what is wrong goes to
    `errors`. Returns the completed content and the recipients' normalised addresses."""
    limits: dict[str, int] = {
        Batch.Mode.SELECT_AND_SEND: MAX_SELECT_AND_SEND,
        Batch.Mode.GROUP: MAX_GROUP,
    }
    if mode not in limits:
        raise ComposeError({"mode": _("Mode must be select_and_send or group.")})
    content.check(errors)
    if not recipients:
        errors["to"] = _("Choose at least one recipient.")
    elif len(recipients) > limits[mode]:
        errors["to"] = _("%(mode)s allows at most %(limit)s recipients; got %(n)s.") % {
            "mode": _("Group email") if mode == Batch.Mode.GROUP else _("Select and Send"),
            "limit": f"{limits[mode]:,}",
            "n": f"{len(recipients):,}",
        }
    return content.completed(), _bulk_addresses(recipients, mode, errors)


def _prepare_bulk(
    user: User, people: Sequence[Person], contents: Sequence[Content], *, fail_unfillable: bool
) -> tuple[list[Prepared], Mapping[int, str]]:
    """Each person's rendered content and blocking reason; a merge field that would come out
    empty refuses the whole send unless `fail_unfillable`."""
    blocked = blocking_reasons(people)
    defaults = defaults_for(user)
    prepared = [
        _prepare(user, person, content.completed(), defaults)
        for person, content in zip(people, contents, strict=True)
    ]
    if not fail_unfillable:
        _refuse_missing(
            [
                (f"to[{index}]", item)
                for index, item in enumerate(prepared)
                if item.missing and item.person.pk not in blocked
            ]
        )
    return prepared, blocked


def _check_threads(
    user: User,
    mode: str,
    recipients: Sequence[Recipient],
    addresses: Sequence[str],
    errors: dict[str, str],
) -> None:
    """A copy may answer an earlier email: one of the user's, sent, to that recipient; never
    in a Group send (one content for all)."""
    for index, (recipient, address) in enumerate(zip(recipients, addresses, strict=True)):
        if recipient.thread is None:
            continue
        if mode == Batch.Mode.GROUP:
            errors[f"to[{index}]"] = _("A group email has one content for all recipients.")
        elif address and (refusal := thread_refusal(user, address, recipient.thread)):
            errors[f"to[{index}]"] = refusal


def copy_content(recipient: Recipient, shared: Content) -> Content:
    """What one recipient of a bulk send gets, as written: their own edited copy, else the
    shared content (answering their thread, if it continues one)."""
    if recipient.content is not None:
        return recipient.content
    return threaded_content(shared, recipient.thread) if recipient.thread else shared


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
            errors[f"to[{index}]"] = _("%(address)s is listed twice.") % {"address": address}
        seen.add(address)
        addresses.append(address)
        if recipient.content is not None:
            if mode == Batch.Mode.GROUP:
                errors[f"to[{index}]"] = _("A group email has one content for all recipients.")
            else:
                recipient.content.check(errors, prefix=f"to[{index}].")
    return addresses


# -- editing --------------------------------------------------------------------------------

# Failed emails can be edited too: fix the merge field or the address, then Retry Send.
EDITABLE = frozenset({Status.DRAFT, Status.SCHEDULED, Status.FAILED})


def written_content(email: Email) -> Content:
    """The email's content as the rep wrote it (merge fields and all)."""
    return Content(*email.written())


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
    send_zone: str | None = None,
    fill: Fills | None = None,
) -> Email:
    """Change a draft, a scheduled or a failed email.

    `draft=False` schedules a draft, True unschedules. A failed email stays Failed with its
    new content unless `draft=False` or a `send_at` is given: then it is sent again, if Retry
    Send allows it (actions.retry_refusal).
    """
    if email.status not in EDITABLE:
        label = status_label(email.status)
        raise ComposeError(
            {"status": _("A %(status)s email cannot be edited.") % {"status": label}}
        )
    target = _edit_target(email, send_at=send_at, draft=draft)
    if target == Status.DRAFT and email.is_bulk:
        raise ComposeError({"draft": _("Only single emails can be drafts.")})
    errors: dict[str, str] = {}
    written = written_content(email)
    content = Content(
        written.subject if subject is None else subject,
        written.body_text if body_text is None else body_text,
        written.body_html if body_html is None else body_html,
    )
    content.check(errors, draft=target == Status.DRAFT)
    content = content.completed() if body_text is not None or body_html is not None else content
    address = email.to_address if to is None else _address(to, errors, "to")
    if to is not None and email.is_bulk and address != email.to_address:
        errors["to"] = _("The recipient of a bulk email cannot be changed.")
    fills = check_fills(fill or {}, errors)
    when = resolve_send_at(send_at, errors) if target == Status.SCHEDULED else None
    if errors:
        raise ComposeError(errors)
    with transaction.atomic():
        person = people_by_address(user, [address])[address]
        apply_fills(person, fills.get(address, {}))
        prepared = _prepare(user, person, content, defaults_for(user))
        if target == Status.SCHEDULED:
            _refuse_missing([("merge", prepared)] if prepared.missing else [])
        fields = _content_fields(prepared)
        if send_zone is not None:
            fields["send_zone"] = send_zone[:64]
        if target == Status.DRAFT:
            fields["reason"] = _draft_reason(prepared)
            _move(email, Status.DRAFT, fields, kind="unscheduled")
        elif target == Status.FAILED:
            if prepared.missing:
                fields["reason"] = missing_reason(prepared.missing, [person.email])
            _move(email, Status.FAILED, fields, kind="edited")
        else:
            _schedule(email, fields, when, explicit=send_at is not None)
    email.refresh_from_db()
    return email


def _edit_target(email: Email, *, send_at: dt.datetime | None, draft: bool | None) -> str:
    """The status an edit leaves the email in."""
    if draft:
        return Status.DRAFT
    if email.status == Status.FAILED:
        return Status.SCHEDULED if (draft is False or send_at is not None) else Status.FAILED
    if draft is None and email.status == Status.DRAFT and send_at is None:
        return Status.DRAFT
    return Status.SCHEDULED


def _content_fields(prepared: Prepared) -> dict[str, Any]:
    person, content, rendered = prepared.person, prepared.content, prepared.rendered
    return {
        "person": person,
        "to_address": person.email,
        "subject": rendered.subject,
        "body_text": rendered.body_text,
        "body_html": rendered.body_html,
        "template_subject": content.subject,
        "template_body_text": content.body_text,
        "template_body_html": content.body_html,
    }


def _draft_reason(prepared: Prepared) -> str:
    if not prepared.missing:
        return ""
    return missing_reason(prepared.missing, [prepared.person.email])


def _schedule(
    email: Email, fields: dict[str, Any], when: dt.datetime | None, *, explicit: bool
) -> None:
    now = timezone.now()
    when = when or now
    if not explicit and email.status == Status.SCHEDULED and email.send_at:
        when = max(email.send_at, now)
    fields.update(send_at=when, due_at=when, sort_at=when, attempts=0, last_error="")
    if email.status == Status.FAILED:
        refusal = retry_refusal(email, person=fields["person"])
        if refusal:
            raise ComposeError({"status": refusal})
        fields.update(
            reason="",
            failed_at=None,
            handoff_started_at=None,
            lease_until=None,
            claimed_by="",
        )
        transition_or_raise(
            email,
            Status.SCHEDULED,
            kind="retried",
            sources=[Status.FAILED],
            data={"previous_reason": email.reason, "edited": True},
            updates=fields,
        )
        return
    _move(email, Status.SCHEDULED, fields, kind="scheduled")


def _move(email: Email, target: str, fields: dict[str, Any], *, kind: str) -> None:
    """Apply an edit; the status changes through the state machine, edits in place otherwise."""
    if email.status == target:
        # Conditional on the status: the sender may have claimed it a moment ago.
        changed = Email.objects.filter(pk=email.pk, status=target).update(
            updated_at=timezone.now(), **fields
        )
        if not changed:
            raise ComposeError(
                {"status": _("The email is being sent and can no longer be edited.")}
            )
        record_event(email.pk, "edited", status=target)
        return
    transition_or_raise(email, target, kind=kind, sources=[email.status], updates=fields)


def refresh_previews(person_ids: Iterable[int]) -> int:
    """Fill scheduled emails and drafts again after their people changed, so that what the
    rep sees is what will go out; how many changed. (The sender fills them once more as it
    sends, so nothing goes out stale even if this is not called.)"""
    changed = 0
    emails = Email.objects.filter(
        person_id__in=list(person_ids), status__in=[Status.SCHEDULED, Status.DRAFT]
    ).select_related("person", "owner")
    defaults: dict[int, dict[str, str]] = {}
    for email in emails:
        if email.owner_id not in defaults:
            defaults[email.owner_id] = defaults_for(email.owner)
        rendered, _missing = render_parts(
            email.person, email.owner, *email.written(), defaults=defaults[email.owner_id]
        )
        if (rendered.subject, rendered.body_text, rendered.body_html) == (
            email.subject,
            email.body_text,
            email.body_html,
        ):
            continue
        changed += Email.objects.filter(pk=email.pk, status=email.status).update(
            subject=rendered.subject, body_text=rendered.body_text, body_html=rendered.body_html
        )
    return changed
