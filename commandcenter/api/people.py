"""People (prospects): create, list and search, read, change, and import from CSV."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja import Status as Reply
from ninja.errors import HttpError
from pydantic import Field, StrictBool

from commandcenter.accounts.models import User
from commandcenter.api.auth import viewer
from commandcenter.api.errors import BadInput
from commandcenter.api.pagination import (
    MAX_ID,
    Cursor,
    Limit,
    Search,
    decode_id_cursor,
    encode_id_cursor,
    page_response,
)
from commandcenter.api.schemas import Input, Text, answers, utc
from commandcenter.outbox.compose import refresh_previews
from commandcenter.outbox.merge import is_field_name
from commandcenter.outbox.queries import PAGE_SIZE
from commandcenter.people.importer import ImportReport, import_people_csv
from commandcenter.people.models import Person
from commandcenter.people.services import normalise_address

router = Router(tags=["people"])

MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_VALUE = 1000
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/octet-stream"})

DryRun = Annotated[bool, Query(False, description="Check only; write nothing.")]
FieldValue = str | int | Annotated[float, Field(allow_inf_nan=False)] | bool


class PersonIn(Input):
    email: Text
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    title: Text = ""
    time_zone: Text = Field("", description="An IANA name such as Europe/Paris; empty for none.")
    custom_fields: dict[Text, FieldValue] = Field(
        default_factory=dict, description="Merge fields of your own: {{name}} in an email."
    )
    do_not_contact: StrictBool = False
    do_not_contact_reason: Text = Field("", description="Why (kept with the date it was set).")


class PersonPatch(Input):
    """Only the fields given change; in custom_fields, null removes a field."""

    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    company: Text | None = None
    title: Text | None = None
    time_zone: Text | None = None
    custom_fields: dict[Text, FieldValue | None] | None = None
    do_not_contact: StrictBool | None = None
    do_not_contact_reason: Text | None = None


class PersonOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    company: str
    title: str
    time_zone: str
    custom_fields: dict[str, Any]
    do_not_contact: bool
    do_not_contact_reason: str
    do_not_contact_at: dt.datetime | None
    unsubscribed_at: dt.datetime | None
    owner: str
    created_at: dt.datetime
    updated_at: dt.datetime


class RowErrorOut(Schema):
    line: int
    message: str


class ImportOut(Schema):
    detail: str
    dry_run: bool
    created: int
    updated: int
    errors: list[RowErrorOut]
    rows: list[dict[str, str]] | None = Field(
        None, description="The rows as read (dry runs only): a preview."
    )


def person_json(person: Person) -> dict[str, Any]:
    return {
        "id": person.pk,
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "company": person.company,
        "title": person.title,
        "time_zone": person.time_zone,
        "custom_fields": person.custom_fields or {},
        "do_not_contact": person.do_not_contact,
        "do_not_contact_reason": person.do_not_contact_reason,
        "do_not_contact_at": utc(person.do_not_contact_at),
        "unsubscribed_at": utc(person.unsubscribed_at),
        "owner": person.owner.username,
        "created_at": utc(person.created_at),
        "updated_at": utc(person.updated_at),
    }


def person_or_404(request: HttpRequest, person_id: int, *, write: bool = False) -> Person:
    owners = (viewer(request).writer().pk,) if write else viewer(request).owner_ids
    person = None
    if 1 <= person_id <= MAX_ID:
        person = (
            Person.objects.select_related("owner").filter(pk=person_id, owner_id__in=owners).first()
        )
    if person is None:
        raise HttpError(404, f"No person with id {person_id}.")
    return person


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_custom_fields(fields: dict[str, Any], errors: dict[str, str]) -> None:
    if len(fields) > MAX_CUSTOM_FIELDS:
        errors["custom_fields"] = f"At most {MAX_CUSTOM_FIELDS} custom fields."
    for name, value in fields.items():
        if not is_field_name(name):
            errors[f"custom_fields.{name[:64]}"] = (
                "A field name is letters, digits and _ (not starting with a digit), "
                "at most 64 characters, so that {{name}} can use it."
            )
        elif isinstance(value, str) and len(value) > MAX_CUSTOM_VALUE:
            errors[f"custom_fields.{name}"] = f"At most {MAX_CUSTOM_VALUE} characters."


def _apply(person: Person, changes: dict[str, Any]) -> None:
    """Set the given fields on `person`, refusing (BadInput) anything invalid; saves nothing."""
    errors: dict[str, str] = {}
    if "email" in changes:
        try:
            changes["email"] = normalise_address(changes["email"])
        except ValidationError as error:
            errors["email"] = error.messages[0]
    zone = changes.get("time_zone")
    if zone and zone not in _time_zones():
        errors["time_zone"] = f"Unknown time zone {zone[:64]!r}; use a name like Europe/Paris."
    if "custom_fields" in changes:
        merged = dict(person.custom_fields or {})
        for name, value in changes["custom_fields"].items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        _check_custom_fields(changes["custom_fields"], errors)
        changes["custom_fields"] = merged
    if errors:
        raise BadInput(errors)
    if "do_not_contact" in changes and changes["do_not_contact"] != person.do_not_contact:
        person.do_not_contact_at = timezone.now() if changes["do_not_contact"] else None
        if not changes["do_not_contact"]:
            changes.setdefault("do_not_contact_reason", "")
    for name, value in changes.items():
        setattr(person, name, value)
    # Lengths and formats from the model; the one-address-per-owner rule is checked below.
    person.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)


def _save(person: Person) -> Person:
    """Save, unless the owner already has someone at this address (409)."""
    taken = (
        Person.objects.annotate(address=Lower("email"))
        .filter(owner_id=person.owner_id, address=person.email.lower())
        .exclude(pk=person.pk)
        .exists()
    )
    if not taken:
        try:
            with transaction.atomic():
                person.save()
            return person
        except IntegrityError:
            pass  # another request added the same address a moment ago
    raise BadInput({"email": "You already have a person with this address."}, status_code=409)


@router.post("/people", response=answers({201: PersonOut}, 409), summary="Add a person")
def create_person(request: HttpRequest, payload: PersonIn) -> Reply[dict[str, Any]]:
    owner: User = viewer(request).writer()
    person = Person(owner=owner)
    _apply(person, payload.model_dump())
    return Reply(201, person_json(_save(person)))


@router.get(
    "/people", response=answers({200: list[PersonOut]}), summary="People, newest first; q searches"
)
def list_people(
    request: HttpRequest,
    q: Search = "",
    cursor: Cursor = None,
    limit: Limit = PAGE_SIZE,
) -> HttpResponse:
    people = Person.objects.select_related("owner").filter(owner_id__in=viewer(request).owner_ids)
    if q.strip():
        term = q.strip()
        people = people.filter(
            Q(email__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(company__icontains=term)
        )
    if cursor:
        people = people.filter(pk__lt=decode_id_cursor(cursor))
    page = list(people.order_by("-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_id_cursor(page[-1].pk) if more else None
    return page_response(request, [person_json(person) for person in page], next_cursor)


CSV_BODY = {
    "requestBody": {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        }
    }
}


@router.post(
    "/people/import",
    response=answers({200: ImportOut, 422: ImportOut}, 415),
    summary="Import people from CSV (all or nothing)",
    openapi_extra=CSV_BODY,
)
def import_people(request: HttpRequest, dry_run: DryRun = False) -> Reply[dict[str, Any]]:
    owner = viewer(request).writer()
    report = import_people_csv(owner, _uploaded_csv(request), dry_run=dry_run)
    body: dict[str, Any] = {
        "dry_run": dry_run,
        "created": report.created,
        "updated": report.updated,
        "errors": [{"line": error.line, "message": error.message} for error in report.errors],
        "rows": report.rows if dry_run else None,
    }
    status = 422 if report.errors else 200
    return Reply(status, body | {"detail": import_summary(report, dry_run=dry_run)})


def import_summary(report: ImportReport, *, dry_run: bool) -> str:
    if report.errors:
        whole_file = [error.message for error in report.errors if error.line == 0]
        count = len(report.errors)
        problem = (
            whole_file[0]
            if whole_file
            else (f"{count} row has an error." if count == 1 else f"{count} rows have errors.")
        )
        return f"{problem} Nothing was imported."
    if dry_run:
        return f"Checked: would create {report.created} and update {report.updated}."
    return f"Created {report.created} and updated {report.updated}."


def _uploaded_csv(request: HttpRequest) -> bytes:
    """The CSV bytes: a text/csv body, or the multipart file field `file`."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.content_type == "multipart/form-data":
        try:
            upload = request.FILES.get("file")
        except MultiPartParserError:
            raise HttpError(400, "The multipart body could not be read.") from None
        if upload is None:
            raise BadInput({"file": "Attach the CSV as the form field 'file'."})
        if upload.size is not None and limit is not None and upload.size > limit:
            raise HttpError(413, f"The file is larger than the limit of {limit:,} bytes.")
        data = upload.read()
    elif request.content_type in CSV_TYPES:
        data = request.body
    else:
        raise HttpError(
            415, "Send the CSV as a text/csv body or as a multipart/form-data file named 'file'."
        )
    if not data.strip():
        raise BadInput({"file": "The CSV is empty."})
    if b"\x00" in data:
        # The importer looks for binary data only near the start; a NUL further on would
        # reach the database, which refuses it. No text file has one.
        raise BadInput({"file": "This is not a CSV file: it contains binary data (NUL bytes)."})
    return data


# After /people/import: /people/{person_id} would otherwise take "import" for an id.
@router.get("/people/{person_id}", response=answers({200: PersonOut}, 404), summary="One person")
def get_person(request: HttpRequest, person_id: int) -> dict[str, Any]:
    return person_json(person_or_404(request, person_id))


@router.patch(
    "/people/{person_id}", response=answers({200: PersonOut}, 404, 409), summary="Change a person"
)
def patch_person(request: HttpRequest, person_id: int, payload: PersonPatch) -> dict[str, Any]:
    changes = payload.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise BadInput(dict.fromkeys(nulls, "Must not be null; leave it out to keep it."))
    person = person_or_404(request, person_id, write=True)
    _apply(person, changes)
    saved = _save(person)
    refresh_previews([saved.pk])
    return person_json(saved)
