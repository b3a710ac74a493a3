"""The search API: POST /search, the filter schema, saved searches and their results, CSV,
and acting on results (tasks for each, enrolment, a threaded follow-up).

Thin handlers: the rules live in query.py and saved.py. A bad filter is a 400 whose
`errors` names the part of the filter and says why.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import Field, Query, Router, Schema
from ninja import Status as Reply
from ninja.errors import HttpError
from pydantic import ConfigDict, StrictBool, StrictInt

from commandcenter.accounts.models import User
from commandcenter.api.auth import Viewer, viewer
from commandcenter.api.campaigns import EnrolOut, enrolment_json, raise_campaign_error
from commandcenter.api.errors import BadInput
from commandcenter.api.schemas import IsoTime, Text, answers, email_json, emails_json, person_brief
from commandcenter.api.tasks import task_json
from commandcenter.campaigns.builder import CampaignError
from commandcenter.campaigns.models import Enrolment
from commandcenter.outbox.compose import Content, compose_bulk
from commandcenter.outbox.models import Batch
from commandcenter.search import actions, schema
from commandcenter.search import saved as saved_searches
from commandcenter.search.export import csv_lines
from commandcenter.search.fields import FIELDS
from commandcenter.search.filters import FilterError, Group, only_emails, parse
from commandcenter.search.models import SavedSearch
from commandcenter.search.query import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    BadSearchCursor,
    Page,
    Result,
    Scope,
    iterate,
    scope_for,
    search,
)
from commandcenter.tasks.models import Task
from commandcenter.tasks.services import TaskError, TaskFields

router = Router(tags=["search"])


class SearchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    filter: dict[str, Any] | str | None = Field(
        None, description="The filter document (see GET /search/schema); absent: everything."
    )
    results: Literal["emails", "people"] = "emails"
    sort: Text = "newest"
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: Text | None = None


class ExportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    filter: dict[str, Any] | str | None = None
    results: Literal["emails", "people"] = "emails"
    sort: Text = "newest"
    ids: list[int] | None = Field(
        None, description="Only these emails of the results (a selection); absent: all."
    )


class SearchOut(Schema):
    total: int
    results: list[dict[str, Any]]
    next_cursor: str | None


class SavedSearchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text
    filter: dict[str, Any] | str | None = None
    results: Literal["emails", "people"] = "emails"
    sort: Text = ""
    shared: StrictBool = False


class SavedSearchPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    filter: dict[str, Any] | str | None = None
    results: Literal["emails", "people"] | None = None
    sort: Text | None = None
    shared: StrictBool | None = None


class SavedSearchOut(Schema):
    id: int
    name: str
    owner: str
    filter: dict[str, Any]
    results: str
    sort: str
    shared: bool
    count: int = Field(description="How many results it has now, for the reader.")
    created_at: Any
    updated_at: Any


class SavedResultsOut(SearchOut):
    new: list[int] = Field(description="Emails on this page that joined since you last looked.")


def filter_problem(error: FilterError) -> BadInput:
    path = error.path
    key = path if path in {"filter", "results", "sort", "cursor", "ids"} else f"filter.{path}"
    return BadInput({key: error.message}, status_code=400)


def _reader(current: Viewer) -> User:
    return current.acting or current.user


def _scope(current: Viewer) -> Any:
    return scope_for(_reader(current), current.owner_ids)


def email_result(row: Result) -> dict[str, Any]:
    """The email as the emails API gives it, and whose it is."""
    return email_json(row.email) | {"owner": row.email.owner.username}


def person_result(row: Result) -> dict[str, Any]:
    return {
        "person": person_brief(row.person),
        "emails": row.emails,
        "score": row.score,
        "latest_email": email_result(row),
    }


def page_json(page: Page) -> dict[str, Any]:
    shape = person_result if page.results == "people" else email_result
    return {
        "total": page.total,
        "results": [shape(row) for row in page.rows],
        "next_cursor": page.next_cursor,
    }


def _run(action: Any) -> Any:
    try:
        return action()
    except FilterError as error:
        raise filter_problem(error) from None
    except BadSearchCursor as error:
        raise BadInput({"cursor": str(error)}, status_code=400) from None


@router.post("/search", response=answers({200: SearchOut}), summary="Search emails or people")
def run_search(request: HttpRequest, payload: SearchIn) -> dict[str, Any]:
    scope = _scope(viewer(request))

    def go() -> dict[str, Any]:
        page = search(
            parse(payload.filter),
            scope,
            results=payload.results,
            sort=payload.sort,
            limit=payload.limit,
            cursor=payload.cursor,
        )
        return page_json(page)

    return _run(go)  # type: ignore[no-any-return]


@router.get("/search/schema", response=dict[str, Any], summary="The filter's JSON Schema")
def filter_schema(request: HttpRequest) -> dict[str, Any]:
    return schema.filter_schema()


def _with_selection(group: Group, ids: list[int] | None) -> Group:
    if ids is None:
        return group
    if not ids:
        raise FilterError("ids", "Choose at least one email, or leave ids out for all.")
    return only_emails(group, FIELDS["id"].parse_value("in", ids))


def csv_response(rows: Any, results: str, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(rows, results), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@router.post(
    "/search/export",
    response=answers({200: None}),
    summary="CSV of every result (or of a selection), streamed",
)
def export(request: HttpRequest, payload: ExportIn) -> HttpResponseBase:
    scope = _scope(viewer(request))

    def go() -> StreamingHttpResponse:
        group = _with_selection(parse(payload.filter), payload.ids)
        # Checked before the first byte goes out: a bad sort or filter is a 400, not a cut CSV.
        search(group, scope, results=payload.results, sort=payload.sort, limit=1)
        rows = iterate(group, scope, results=payload.results, sort=payload.sort)
        return csv_response(rows, payload.results, "search")

    return _run(go)  # type: ignore[no-any-return]


# -- acting on results ---------------------------------------------------------------------


class SelectionIn(Schema):
    """Whom an action applies to: the results of a filter (or of a saved search), all of
    them, or the emails `ids` of them; each person once."""

    model_config = ConfigDict(extra="forbid")

    filter: dict[str, Any] | str | None = Field(None, description="Absent: everything.")
    saved: StrictInt | None = Field(None, description="A saved search instead of a filter.")
    results: Literal["emails", "people"] = "emails"
    sort: Text = "newest"
    ids: list[int] | None = Field(
        None, description="Only these emails of the results (a selection); absent: all."
    )


class TaskSpecIn(Schema):
    model_config = ConfigDict(extra="forbid")

    type: Literal["email", "call", "linkedin", "custom"]
    due_at: IsoTime
    priority: Literal["normal", "high"] = "normal"
    title: Text = Field("", description="Absent: “Follow up: ” and the person's email subject.")
    all_day: StrictBool = False
    notes: Text = ""


class TasksIn(SelectionIn):
    task: TaskSpecIn


class TasksOut(Schema):
    made: int
    tasks: list[dict[str, Any]]
    refused: list[dict[str, str]]


class EnrolSelectionIn(SelectionIn):
    campaign: StrictInt = Field(description="A campaign of yours or shared with your team.")


class FollowUpIn(SelectionIn):
    subject: Text = Field(
        "", description="For people with no email to answer; a threaded copy says “Re: …”."
    )
    body_text: Text = ""
    body_html: Text = ""
    send_at: IsoTime | None = None
    preview: StrictBool = Field(False, description="True: the copies as they would go, not sent.")


def _selected(request: HttpRequest, payload: SelectionIn) -> tuple[Group, Scope, str, str]:
    """The filter (or saved search) narrowed to the selection, its scope, results, sort."""
    current = viewer(request)
    if payload.saved is not None:
        if payload.filter is not None:
            raise BadInput({"saved": "Give a filter or a saved search, not both."}, 400)
        found = saved_or_404(request, payload.saved)
        group, scope, results, sort = saved_searches.as_search(found, _reader(current))
    else:
        group, scope = parse(payload.filter), _scope(current)
        results, sort = payload.results, payload.sort
    group = _with_selection(group, payload.ids)
    # A bad sort or filter is a 400 before anything is done.
    search(group, scope, results=results, sort=sort, limit=1, with_total=False)
    return group, scope, results, sort


def _chosen(request: HttpRequest, payload: SelectionIn) -> list[actions.Chosen]:
    def go() -> list[actions.Chosen]:
        group, scope, results, sort = _selected(request, payload)
        return actions.chosen_people(group, scope, results=results, sort=sort)

    return _acting(go)  # type: ignore[no-any-return]


def _acting(action: Any) -> Any:
    try:
        return _run(action)
    except actions.TooManyPeople as error:
        raise BadInput({"ids": str(error)}, status_code=400) from None


def refusals_json(refused: list[actions.Refusal]) -> list[dict[str, str]]:
    return [{"address": r.address, "reason": r.reason} for r in refused]


@router.post(
    "/search/tasks",
    response=answers({201: TasksOut}),
    summary="A task for each person of the results (or of a selection)",
)
def tasks_for_each(request: HttpRequest, payload: TasksIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    chosen = _chosen(request, payload)
    spec = payload.task
    fields = TaskFields(
        type=spec.type,
        priority=spec.priority,
        title=spec.title or None,
        due_at=spec.due_at,
        all_day=spec.all_day,
        notes=spec.notes,
    )
    try:
        outcome = actions.tasks_for_each(user, chosen, fields)
    except TaskError as error:
        raise BadInput({f"task.{key}": message for key, message in error.errors.items()}) from None
    made = Task.objects.filter(pk__in=[t.pk for t in outcome.made])
    return Reply(
        201,
        {
            "made": len(outcome.made),
            "tasks": [
                task_json(t) for t in made.select_related("person", "owner", "assignee", "done_by")
            ],
            "refused": refusals_json(outcome.refused),
        },
    )


@router.post(
    "/search/enrolments",
    response=answers({201: EnrolOut}, 409),
    summary="Enrol the people of the results (or of a selection) in a campaign",
)
def enrol_each(request: HttpRequest, payload: EnrolSelectionIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    campaign = actions.usable_campaign(user, payload.campaign)
    if campaign is None:
        raise BadInput(
            {"campaign": f"No campaign {payload.campaign} of yours or shared with your team."}
        )
    chosen = _chosen(request, payload)
    try:
        outcome = actions.enrol_each(user, campaign, chosen)
    except CampaignError as error:
        raise_campaign_error(error)
    enrolments = Enrolment.objects.filter(pk__in=[e.pk for e in outcome.made])
    return Reply(
        201,
        {
            "enrolled": [
                enrolment_json(e) for e in enrolments.select_related("person", "next_step")
            ],
            "refused": refusals_json(outcome.refused),
        },
    )


@router.post(
    "/search/follow-up",
    response=answers({200: dict[str, Any], 201: dict[str, Any]}),
    summary="Select and Send to the people of the results, each copy answering the email "
    "that person engaged with (preview: the copies, not sent)",
)
def follow_up(request: HttpRequest, payload: FollowUpIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()

    def go() -> actions.FollowUp:
        group, scope, results, sort = _selected(request, payload)
        return actions.follow_up(user, group, scope, results=results, sort=sort)

    chosen: actions.FollowUp = _acting(go)
    if not chosen.people:
        raise BadInput({"ids": "None of these results is one of your people."}, 400)
    shared = Content(
        payload.subject or actions.default_subject(chosen),
        payload.body_text,
        payload.body_html,
    )
    refused = refusals_json(chosen.refused)
    if payload.preview:
        copies = actions.preview(user, chosen, shared)
        return Reply(200, {"copies": copies, "refused": refused})
    recipients = actions.follow_up_recipients(chosen)
    batch, emails = compose_bulk(
        user, mode=Batch.Mode.SELECT_AND_SEND, recipients=recipients, content=shared,
        send_at=payload.send_at,
    )  # fmt: skip
    return Reply(201, {"batch": batch.pk, "emails": emails_json(emails), "refused": refused})


# -- saved searches ------------------------------------------------------------------------


def saved_json(saved: SavedSearch, count: int) -> dict[str, Any]:
    return {
        "id": saved.pk,
        "name": saved.name,
        "owner": saved.owner.username,
        "filter": saved.filter,
        "results": saved.results,
        "sort": saved.sort,
        "shared": saved.shared,
        "count": count,
        "created_at": saved.created_at,
        "updated_at": saved.updated_at,
    }


def saved_or_404(request: HttpRequest, search_id: int) -> SavedSearch:
    found = saved_searches.get_readable(_reader(viewer(request)), search_id)
    if found is None:
        raise HttpError(404, f"No saved search with id {search_id}.")
    return found


def _saving(action: Any) -> Any:
    try:
        return action()
    except saved_searches.SavedSearchError as error:
        status = 400 if any(key.startswith("filter") for key in error.errors) else 422
        raise BadInput(error.errors, status_code=status) from None
    except PermissionError as error:
        raise HttpError(403, str(error)) from None


@router.get(
    "/saved-searches",
    response=answers({200: list[SavedSearchOut]}),
    summary="Your saved searches and those shared with your team, with their counts",
)
def list_saved(request: HttpRequest) -> list[dict[str, Any]]:
    reader = _reader(viewer(request))
    found = list(saved_searches.readable(reader))
    counts = saved_searches.counts(found, reader)
    return [saved_json(saved, counts[saved.pk]) for saved in found]


@router.post("/saved-searches", response=answers({201: SavedSearchOut}), summary="Save a search")
def create_saved(request: HttpRequest, payload: SavedSearchIn) -> Reply[dict[str, Any]]:
    owner = viewer(request).writer()
    draft = saved_searches.Draft(**payload.model_dump())
    created = _saving(lambda: saved_searches.create(owner, draft))
    return Reply(201, saved_json(created, saved_searches.current_count(created, owner)))


@router.get(
    "/saved-searches/{search_id}",
    response=answers({200: SavedSearchOut}, 404),
    summary="One saved search with its count",
)
def get_saved(request: HttpRequest, search_id: int) -> dict[str, Any]:
    found = saved_or_404(request, search_id)
    reader = _reader(viewer(request))
    return saved_json(found, saved_searches.current_count(found, reader))


@router.patch(
    "/saved-searches/{search_id}",
    response=answers({200: SavedSearchOut}, 404),
    summary="Rename, change, share or unshare (its owner only)",
)
def patch_saved(request: HttpRequest, search_id: int, payload: SavedSearchPatch) -> dict[str, Any]:
    found = saved_or_404(request, search_id)
    user = viewer(request).writer()
    changes = payload.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None and name != "filter"]
    if nulls:
        raise BadInput(dict.fromkeys(nulls, "Must not be null; leave it out to keep it."))
    if "filter" in changes and changes["filter"] is None:
        changes["filter"] = {}
    draft = saved_searches.Draft(**changes)
    updated = _saving(lambda: saved_searches.update(found, user, draft))
    return saved_json(updated, saved_searches.current_count(updated, user))


@router.delete(
    "/saved-searches/{search_id}",
    response=answers({204: None}, 404),
    summary="Delete (its owner only)",
)
def delete_saved(request: HttpRequest, search_id: int) -> Reply[None]:
    found = saved_or_404(request, search_id)
    user = viewer(request).writer()
    _saving(lambda: saved_searches.delete(found, user))
    return Reply(204, None)


@router.get(
    "/saved-searches/{search_id}/results",
    response=answers({200: SavedResultsOut}, 404),
    summary="The saved search's results now; `new` marks what joined since you last looked",
)
def saved_results(
    request: HttpRequest,
    search_id: int,
    limit: int = Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    cursor: Text | None = None,
    sort: Text | None = None,
) -> dict[str, Any]:
    found = saved_or_404(request, search_id)
    reader = _reader(viewer(request))

    def go() -> dict[str, Any]:
        page, new = saved_searches.results(found, reader, limit=limit, cursor=cursor, sort=sort)
        return page_json(page) | {"new": sorted(new)}

    return _run(go)  # type: ignore[no-any-return]


@router.get(
    "/saved-searches/{search_id}/export",
    response=answers({200: None}, 404),
    summary="CSV of all the saved search's results, streamed",
)
def saved_export(request: HttpRequest, search_id: int) -> HttpResponseBase:
    found = saved_or_404(request, search_id)
    group, scope, results, sort = saved_searches.as_search(found, _reader(viewer(request)))
    rows = iterate(group, scope, results=results, sort=sort)
    return csv_response(rows, results, f"saved-search-{found.pk}")
