"""The search pages: the builder (its URL carries the filter), results, saved searches,
Most Engaged, follow-up, CSV export. Thin views over query.py and saved.py."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from commandcenter.outbox.compose import MAX_SELECT_AND_SEND
from commandcenter.search import saved as saved_searches
from commandcenter.search.export import csv_lines
from commandcenter.search.fields import FIELDS, OP_LABELS, PRESETS, Counter
from commandcenter.search.filters import Condition, FilterError, Group, parse
from commandcenter.search.models import SavedSearch
from commandcenter.search.query import (
    EMAIL_SORTS,
    PEOPLE_SORTS,
    RESULTS,
    BadSearchCursor,
    Page,
    Scope,
    iterate,
    scope_for,
    search,
)
from commandcenter.web.decorators import web_view
from commandcenter.web.folders import STATUS_LABELS
from commandcenter.web.scope import scope_for as web_scope
from commandcenter.web.scope import signed_in_user

MOST_ENGAGED = {
    "v": 1,
    "all": [
        {"field": "delivered_at", "op": "within", "value": "this_week"},
        {
            "any": [
                {"field": "opens", "op": "gte", "value": 1},
                {"field": "clicks", "op": "gte", "value": 1},
                {"field": "replies", "op": "gte", "value": 1},
            ]
        },
    ],
}
SORT_LABELS = {
    "newest": gettext_lazy("Newest"),
    "oldest": gettext_lazy("Oldest"),
    "created": gettext_lazy("Created"),
    "most_engaged": gettext_lazy("Most engaged"),
    "most_opens": gettext_lazy("Most views"),
    "most_clicks": gettext_lazy("Most clicks"),
    "most_replies": gettext_lazy("Most replies"),
    "recipient": gettext_lazy("Recipient"),
}


def _reader_scope(request: HttpRequest) -> Scope:
    scope = web_scope(request)
    return scope_for(signed_in_user(request), scope.owner_ids, timezone.get_current_timezone())


def builder_fields() -> dict[str, Any]:
    """What the builder's script needs of the field table, in the reader's language."""
    return {
        "fields": {
            name: {
                "label": str(kind.label),
                "ops": list(kind.ops),
                "type": kind.value_type,
                "choices": [
                    [value, str(STATUS_LABELS.get(value, value))]
                    for value in getattr(kind, "choices", ())
                ],
                "options": list(kind.options) if isinstance(kind, Counter) else [],
            }
            for name, kind in FIELDS.items()
            if name != "id"
        },
        "ops": {op: str(label) for op, label in OP_LABELS.items()},
        "presets": [[name, str(label)] for name, label in PRESETS.items()],
        "text": {
            "all": _("All of these"),
            "any": _("Any of these"),
            "not": _("Not"),
            "add_condition": _("Add condition"),
            "add_group": _("Add group"),
            "remove": _("Remove"),
            "include_machine": _("include machine"),
            "within_days": _("within days of delivery"),
        },
    }


def _document(request: HttpRequest) -> Any:
    raw = request.GET.get("f", "")
    return raw if raw.strip() else None


def search_url(document: Any, **params: str) -> str:
    query = {"f": json.dumps(document, separators=(",", ":")), **params}
    return f"{reverse('search:search')}?{urlencode(query)}"


def _page_context(
    request: HttpRequest, group: Group, scope: Scope, results: str, sort: str
) -> dict[str, Any]:
    page = search(
        group, scope, results=results, sort=sort, cursor=request.GET.get("cursor") or None
    )
    return {"page": page, "rows": _rows(page, set()), "results": results, "sort": sort}


def _rows(page: Page, new: set[int]) -> list[dict[str, Any]]:
    return [
        {
            "email": row.email,
            "person": row.person,
            "emails": row.emails,
            "score": row.score,
            "status_label": STATUS_LABELS.get(row.email.status, row.email.status),
            "new": row.email.pk in new,
        }
        for row in page.rows
    ]


@web_view
@require_GET
def search_page(request: HttpRequest) -> HttpResponseBase:
    results = request.GET.get("results", "emails")
    results = results if results in RESULTS else "emails"
    sort = request.GET.get("sort", "newest")
    context: dict[str, Any] = {
        "builder": builder_fields(),
        "document": request.GET.get("f", ""),
        "results": results,
        "sort": sort,
        "sorts": _sort_choices(results),
        "title": _("Advanced search"),
    }
    try:
        group = parse(_document(request))
        context.update(_page_context(request, group, _reader_scope(request), results, sort))
    except FilterError as error:
        context["filter_error"] = str(error)
    except BadSearchCursor:
        context["filter_error"] = _("This page link is broken; run the search again.")
    context["query_string"] = _query_without_cursor(request)
    return render(request, "search/search.html", context)


def _sort_choices(results: str) -> list[tuple[str, str]]:
    sorts = PEOPLE_SORTS if results == "people" else EMAIL_SORTS
    return [(name, str(SORT_LABELS[name])) for name in sorts]


def _query_without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("cursor", None)
    return query.urlencode()


@web_view
@require_GET
def most_engaged(request: HttpRequest) -> HttpResponseBase:
    results = request.GET.get("results", "people")
    return redirect(search_url(MOST_ENGAGED, results=results, sort="most_engaged"))


@web_view
@require_GET
def sidebar(request: HttpRequest) -> HttpResponseBase:
    """The saved searches with their counts as of now (the sidebar loads and polls this)."""
    from commandcenter.search.templatetags.search_tags import sidebar_context

    current = request.GET.get("current", "")
    context = sidebar_context(
        signed_in_user(request), int(current) if current.isdigit() else None, with_counts=True
    )
    return render(request, "search/_sidebar.html", context)


# -- saved searches ------------------------------------------------------------------------


def _saved_or_404(request: HttpRequest, search_id: int) -> SavedSearch:
    found = saved_searches.get_readable(signed_in_user(request), search_id)
    if found is None:
        raise Http404
    return found


@web_view
@require_POST
def save_search(request: HttpRequest) -> HttpResponseBase:
    user = signed_in_user(request)
    draft = saved_searches.Draft(
        name=request.POST.get("name", ""),
        filter=request.POST.get("f", "") or {},
        results=request.POST.get("results", "emails"),
        sort=request.POST.get("sort", ""),
        shared=request.POST.get("shared") == "on",
    )
    try:
        created = saved_searches.create(user, draft)
    except saved_searches.SavedSearchError as error:
        for message in error.errors.values():
            messages.error(request, message)
        query = urlencode({"f": request.POST.get("f", ""), "results": draft.results or "emails"})
        return redirect(f"{reverse('search:search')}?{query}")
    messages.success(request, _("Saved the search “%(name)s”.") % {"name": created.name})
    return redirect("search:saved", search_id=created.pk)


@web_view
@require_GET
def saved_page(request: HttpRequest, search_id: int) -> HttpResponseBase:
    found = _saved_or_404(request, search_id)
    user = signed_in_user(request)
    try:
        page, new = saved_searches.results(
            found,
            user,
            limit=50,
            cursor=request.GET.get("cursor") or None,
            tz=timezone.get_current_timezone(),
            look=request.GET.get("part") != "rows",
        )
    except BadSearchCursor:
        raise Http404 from None
    context = {
        "saved": found,
        "page": page,
        "rows": _rows(page, new),
        "results": found.results,
        "is_owner": found.owner_id == user.pk,
        "edit_url": search_url(found.filter, results=found.results, sort=found.sort or "newest"),
        "query_string": "",
    }
    if request.GET.get("part") == "rows":
        return render(request, "search/_table.html", context)
    return render(request, "search/saved.html", context)


@web_view
@require_POST
def saved_change(request: HttpRequest, search_id: int) -> HttpResponseBase:
    """Rename, share or unshare, or delete (the owner only)."""
    found = _saved_or_404(request, search_id)
    user = signed_in_user(request)
    if found.owner_id != user.pk:
        raise Http404
    action = request.POST.get("action", "")
    if action == "delete":
        saved_searches.delete(found, user)
        messages.success(request, _("Deleted the saved search “%(name)s”.") % {"name": found.name})
        return redirect("search:search")
    draft = saved_searches.Draft(
        name=request.POST.get("name") if action == "rename" else None,
        shared=(request.POST.get("shared") == "on") if action == "share" else None,
        filter=request.POST.get("f") if action == "update" else None,
    )
    try:
        saved_searches.update(found, user, draft)
        messages.success(request, _("Saved."))
    except saved_searches.SavedSearchError as error:
        for message in error.errors.values():
            messages.error(request, message)
    return redirect("search:saved", search_id=found.pk)


# -- acting on results ---------------------------------------------------------------------


def _selection(request: HttpRequest) -> tuple[Group, Scope, str, str]:
    """The search the action applies to (a saved one, or the page's filter), narrowed to the
    ticked emails unless "all results" was asked for."""
    user = signed_in_user(request)
    data = request.POST if request.method == "POST" else request.GET
    saved_id = data.get("saved", "")
    if saved_id.isdigit():
        found = _saved_or_404(request, int(saved_id))
        group = saved_searches.parsed(found)
        scope = saved_searches.scope_of(found, user, timezone.get_current_timezone())
        results, sort = found.results, found.sort or "newest"
    else:
        group = parse(data.get("f", "") or None)
        scope = _reader_scope(request)
        results = data.get("results", "emails")
        results = results if results in RESULTS else "emails"
        sort = data.get("sort", "newest")
    if data.get("scope") != "all":
        ids = [int(raw) for raw in data.getlist("ids") if raw.isdigit() and 0 < int(raw) < 2**63]
        # No id ticked: nothing is chosen (0 is no email's id).
        chosen = Condition("id", "in", tuple(ids[:1000]) or (0,), {}, "ids")
        group = Group("all", (group, chosen))
    return group, scope, results, sort


@web_view
def follow_up(request: HttpRequest) -> HttpResponseBase:
    """Select and Send to the people of the selection (or of all results), with its
    per-recipient preview. Only one's own people can be emailed."""
    try:
        group, scope, results, sort = _selection(request)
    except FilterError as error:
        messages.error(request, str(error))
        return redirect("search:search")
    user = signed_in_user(request)
    people: list[int] = []
    for row in iterate(group, scope, results=results, sort=sort):
        if row.person.owner_id == user.pk and row.person.pk not in people:
            people.append(row.person.pk)
        if len(people) > MAX_SELECT_AND_SEND:
            messages.error(
                request,
                _("A follow-up goes to at most %(n)d people; narrow the search or pick rows.")
                % {"n": MAX_SELECT_AND_SEND},
            )
            return redirect(request.META.get("HTTP_REFERER") or reverse("search:search"))
    if not people:
        messages.error(request, _("Choose one or more of your own results to follow up."))
        return redirect(reverse("search:search"))
    query = urlencode([("mode", "select_and_send")] + [("person", pk) for pk in people])
    return redirect(f"{reverse('web:compose_bulk')}?{query}")


@web_view
def export_csv(request: HttpRequest) -> HttpResponseBase:
    try:
        group, scope, results, sort = _selection(request)
        search(group, scope, results=results, sort=sort, limit=1)
    except FilterError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    rows = iterate(group, scope, results=results, sort=sort)
    response = StreamingHttpResponse(csv_lines(rows, results), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="search.csv"'
    return response
