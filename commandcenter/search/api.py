"""The search API: POST /search, the filter schema, saved searches and their results, CSV.

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
from pydantic import ConfigDict, StrictBool

from commandcenter.accounts.models import User
from commandcenter.api.auth import Viewer, viewer
from commandcenter.api.errors import BadInput
from commandcenter.api.schemas import Text, answers, email_json, person_brief
from commandcenter.search import saved as saved_searches
from commandcenter.search import schema
from commandcenter.search.export import csv_lines
from commandcenter.search.filters import Condition, FilterError, Group, parse
from commandcenter.search.models import SavedSearch
from commandcenter.search.query import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    BadSearchCursor,
    Page,
    Result,
    iterate,
    scope_for,
    search,
)

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
    from commandcenter.search.fields import FIELDS

    selection = Condition("id", "in", FIELDS["id"].parse_value("in", ids), {}, "ids")
    return Group("all", (group, selection))


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
    reader = _reader(viewer(request))
    scope = saved_searches.scope_of(found, reader)
    rows = iterate(
        saved_searches.parsed(found), scope, results=found.results, sort=found.sort or "newest"
    )
    return csv_response(rows, found.results, f"saved-search-{found.pk}")
