"""What goes in and out of the API: request schemas (strict: unknown fields are refused),
response schemas (for the OpenAPI document), and the functions that build responses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StrictBool

from commandcenter.api.errors import text_problem
from commandcenter.outbox.actions import actions_for, retry_refusals
from commandcenter.outbox.models import Batch, Email, Event
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"The text {problem}")
    return value


def _iso_text(value: object) -> object:
    """Only ISO 8601 strings are times here (pydantic would also take a Unix timestamp)."""
    if not isinstance(value, str):
        raise ValueError("Expected an ISO 8601 time with an offset, e.g. 2026-12-01T09:00:00+01:00")
    return value


def _in_range(value: dt.datetime) -> dt.datetime:
    # A time at the edge of the calendar breaks when it is moved to UTC for the database.
    try:
        if value.tzinfo is not None:
            value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("The time is out of range") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]
IsoTime = Annotated[dt.datetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


# --- errors ------------------------------------------------------------------------------


class ErrorOut(Schema):
    detail: str = Field(description="What went wrong, for a person to read.")
    errors: dict[str, str] | None = Field(None, description="field: message, where useful.")
    missing: dict[str, list[str]] | None = Field(
        None,
        description="Merge fields that would come out empty: recipient address -> field names.",
    )


# Bad JSON (400), no token (401), view-as refused (403), too big (413), bad fields (422).
COMMON_ERRORS = (400, 401, 403, 413, 422)


def answers(ok: dict[int, Any], *more_errors: int) -> dict[Any, Any]:
    """A route's `response=`: its success schema and the error codes it can answer with."""
    codes = frozenset(COMMON_ERRORS + more_errors) - set(ok)
    return {codes: ErrorOut, **ok}


# --- emails in ---------------------------------------------------------------------------


MERGE_HELP = (
    " Merge fields: {{first_name}}, {{company}}, custom fields…; {{first_name | there}} gives a "
    "fallback. A field that would come out empty is refused (422, with `missing`)."
)
TemplateId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class EmailIn(Input):
    to: Text = Field(description="The recipient's address; the person is found or created.")
    subject: Text = Field(description="As written, with merge fields." + MERGE_HELP)
    body_text: Text = Field("", description="Made from body_html when only that is given.")
    body_html: Text = ""
    send_at: IsoTime | None = Field(None, description="ISO 8601 with an offset; absent means now.")
    draft: StrictBool = False
    template: TemplateId | None = Field(
        None, description="The saved template this email was started from (for its statistics)."
    )


class EmailPatch(Input):
    """Only the fields given change. `draft: false` schedules a draft, `true` unschedules."""

    to: Text | None = None
    subject: Text | None = None
    body_text: Text | None = None
    body_html: Text | None = None
    send_at: IsoTime | None = None
    draft: StrictBool | None = None


class RecipientIn(Input):
    """One Select-and-Send recipient; the fields given replace the shared content for them."""

    to: Text
    subject: Text | None = None
    body_text: Text | None = None
    body_html: Text | None = None


def _recipient(value: object) -> object:
    if isinstance(value, str):
        return {"to": value}
    if not isinstance(value, dict):
        raise ValueError('Each recipient is an address or an object with "to"')
    return value


RecipientItem = Annotated[RecipientIn, BeforeValidator(_recipient)]


class BulkIn(Input):
    mode: Literal["select_and_send", "group"]
    to: list[RecipientItem] = Field(
        description="Addresses; for select_and_send an item may also be an object "
        '{"to", "subject"?, "body_text"?, "body_html"?} overriding that copy.'
    )
    subject: Text = Field(description="As written, with merge fields." + MERGE_HELP)
    body_text: Text = ""
    body_html: Text = ""
    send_at: IsoTime | None = None
    draft: StrictBool = Field(False, description="Always refused: bulk emails cannot be drafts.")
    template: TemplateId | None = None


# --- emails out --------------------------------------------------------------------------


class PersonBrief(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    company: str
    title: str


class WrittenOut(Schema):
    """The email as the rep wrote it: merge fields and all."""

    id: int | None = Field(description="The saved template it was started from, if any.")
    subject: str
    body_text: str
    body_html: str


class EmailOut(Schema):
    id: int
    status: str
    reason: str
    to: str
    subject: str = Field(description="What the recipient gets (or will get): fields filled.")
    body_text: str
    body_html: str
    template: WrittenOut = Field(description="The same as written, merge fields and all.")
    send_at: dt.datetime | None
    sent_at: dt.datetime | None
    failed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    message_id: str
    batch: int | None
    campaign: int | None = Field(description="The campaign of a campaign email.")
    step: int | None = Field(description="Its campaign step.")
    variant: int | None = Field(description="Its A/B variant, when the step has several.")
    person: PersonBrief
    attempts: int
    last_error: str
    next_attempt_at: dt.datetime | None = Field(
        description="When the sender next tries (scheduled emails only)."
    )
    opens: int
    clicks: int
    replies: int
    actions: list[str] = Field(description="The quick actions its folder offers.")


class EventOut(Schema):
    id: int
    kind: str
    from_status: str
    to_status: str
    detail: str
    data: dict[str, Any]
    payload: str
    created_at: dt.datetime


class EmailDetailOut(EmailOut):
    events: list[EventOut]


class BulkOut(Schema):
    batch: int
    emails: list[EmailOut]


class FoldersOut(Schema):
    delivered: int
    archived: int
    scheduled: int
    draft: int
    in_progress: int
    failed: int
    bounced: int
    spam: int


class BatchOut(Schema):
    id: int
    mode: str
    subject: str
    size: int
    created_at: dt.datetime
    folders: FoldersOut
    emails: list[EmailOut]


class MeOut(Schema):
    id: int
    username: str
    email: str
    name: str
    team: str | None
    is_admin: bool
    viewing_as: str = Field(description="Whose data this request sees: a username or team:NAME.")
    can_view_as: list[str]


def person_brief(person: Person) -> dict[str, Any]:
    return {
        "id": person.pk,
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "company": person.company,
        "title": person.title,
    }


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Every timestamp the API gives is in UTC (written with a Z)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def email_json(email: Email, refusals: Mapping[int, str] | None = None) -> dict[str, Any]:
    """One email; `refusals` (actions.retry_refusals of a page) saves a query per email."""
    subject, body_text, body_html = email.written()
    return {
        "id": email.pk,
        "status": email.status,
        "reason": email.reason,
        "to": email.to_address,
        "subject": email.subject,
        "body_text": email.body_text,
        "body_html": email.body_html,
        "template": {
            "id": email.template_id,
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
        },
        "send_at": utc(email.send_at),
        "sent_at": utc(email.sent_at),
        "failed_at": utc(email.failed_at),
        "created_at": utc(email.created_at),
        "updated_at": utc(email.updated_at),
        "message_id": email.message_id,
        "batch": email.batch_id,
        "campaign": email.campaign_id,
        "step": email.step_id,
        "variant": email.variant_id,
        "person": person_brief(email.person),
        "attempts": email.attempts,
        "last_error": email.last_error,
        "next_attempt_at": utc(email.due_at) if email.status == Status.SCHEDULED else None,
        "opens": email.opens,
        "clicks": email.clicks,
        "replies": email.replies,
        "actions": sorted(actions_for(email, refusals)),
    }


def emails_json(emails: list[Email]) -> list[dict[str, Any]]:
    """A page of emails, with the Retry Send rule checked for all of them at once."""
    refusals = retry_refusals(emails)
    return [email_json(email, refusals) for email in emails]


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": event.detail,
        "data": event.data if isinstance(event.data, dict) else {"value": event.data},
        "payload": event.payload,
        "created_at": utc(event.created_at),
    }


def email_detail_json(email: Email) -> dict[str, Any]:
    events = email.events.order_by("created_at", "id")
    return email_json(email) | {"events": [event_json(event) for event in events]}


def batch_json(batch: Batch, emails: list[Email], folders: dict[str, int]) -> dict[str, Any]:
    return {
        "id": batch.pk,
        "mode": batch.mode,
        "subject": batch.subject,
        "size": batch.size,
        "created_at": utc(batch.created_at),
        "folders": folders,
        "emails": emails_json(emails),
    }
