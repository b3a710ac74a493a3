"""The search pages: the builder (its URL carries the filter), results, saved searches,
Most Engaged, and acting on results: follow-up, tasks, enrolment, CSV export. Thin views over
query.py, saved.py and actions.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from commandcenter.accounts.models import User
from commandcenter.campaigns.builder import CampaignError, visible_campaigns
from commandcenter.campaigns.models import Campaign, Step, Variant
from commandcenter.campaigns.queries import put_campaign_labels, variant_letters
from commandcenter.outbox.compose import MAX_SELECT_AND_SEND
from commandcenter.search import actions
from commandcenter.search import saved as saved_searches
from commandcenter.search.export import csv_lines
from commandcenter.search.fields import FIELDS, OP_LABELS, PRESETS, Counter
from commandcenter.search.filters import FilterError, Group, only_emails, parse
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
from commandcenter.tasks.models import Task
from commandcenter.tasks.services import TaskError, TaskFields, whole_day
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


def builder_fields(reader: User, owner_ids: Sequence[int]) -> dict[str, Any]:
    """What the builder's script needs of the field table, in the reader's language; the
    campaign fields offer the campaigns, steps and variants the reader may see."""
    parts = campaign_choices(reader, owner_ids)
    return {
        "fields": {
            name: {
                "label": str(kind.label),
                "ops": list(kind.ops),
                "type": kind.value_type,
                "choices": parts.get(name)
                or [
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


def campaign_choices(reader: User, owner_ids: Sequence[int]) -> dict[str, list[list[Any]]]:
    """[id, label] of the campaigns the reader may see, of their email steps and of the
    steps' A/B variants (the campaign fields' choices)."""
    campaigns = list(
        Campaign.objects.filter(visible_campaigns(reader, owner_ids)).order_by("name", "pk")[:500]
    )
    names = {c.pk: c.name for c in campaigns}
    steps = [
        s
        for s in Step.objects.filter(campaign_id__in=names).order_by("campaign_id", "position")
        if s.is_email
    ]
    labels = {s.pk: f"{names[s.campaign_id]} · {s.label}" for s in steps}
    variants = Variant.objects.filter(step_id__in=labels).order_by("step_id", "index")
    return {
        "campaign": [[c.pk, c.name] for c in campaigns],
        "step": [[pk, label] for pk, label in labels.items()],
        "variant": [
            [v.pk, f"{labels[v.step_id]} · {v.letter}: {v.subject}"[:200]] for v in variants
        ],
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
    return {
        "page": page,
        "rows": _rows(page, set()),
        "results": results,
        "sort": sort,
        **_action_choices(request),
    }


def _action_choices(request: HttpRequest) -> dict[str, Any]:
    """What the actions on the results offer: campaigns to enrol in, task types."""
    user = signed_in_user(request)
    return {
        "enrol_campaigns": actions.enrollable_campaigns(user)
        .filter(status=Campaign.Status.ACTIVE)
        .order_by("name", "pk")[:500],
        "task_types": Task.Type.choices,
        "today": timezone.localdate().isoformat(),
    }


def _rows(page: Page, new: set[int]) -> list[dict[str, Any]]:
    put_campaign_labels([row.email for row in page.rows])
    letters = variant_letters(row.email.variant_id for row in page.rows)
    return [
        {
            "email": row.email,
            "person": row.person,
            "emails": row.emails,
            "score": row.score,
            "status_label": STATUS_LABELS.get(row.email.status, row.email.status),
            "campaign": getattr(row.email, "campaign_label", ""),
            "variant": letters.get(row.email.variant_id or 0, ""),
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
    reader = signed_in_user(request)
    context: dict[str, Any] = {
        "builder": builder_fields(reader, web_scope(request).owner_ids),
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
        **_action_choices(request),
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
        group, scope, results, sort = saved_searches.as_search(
            found, user, timezone.get_current_timezone()
        )
    else:
        group = parse(data.get("f", "") or None)
        scope = _reader_scope(request)
        results = data.get("results", "emails")
        results = results if results in RESULTS else "emails"
        sort = data.get("sort", "newest")
    if data.get("scope") != "all":
        ids = [int(raw) for raw in data.getlist("ids") if raw.isdigit() and 0 < int(raw) < 2**63]
        # No id ticked: nothing is chosen (0 is no email's id).
        group = only_emails(group, tuple(ids[:1000]) or (0,))
    return group, scope, results, sort


def _acting_on(request: HttpRequest) -> tuple[Group, Scope, str, str] | HttpResponseBase:
    """The selection an action applies to, or the way back when it cannot be read."""
    try:
        return _selection(request)
    except FilterError as error:
        messages.error(request, str(error))
        return redirect("search:search")


def _back(request: HttpRequest) -> str:
    """Where the results the action came from are (the saved search's page, or the search
    with its filter)."""
    saved_id = request.POST.get("saved", "")
    if saved_id.isdigit():
        return reverse("search:saved", kwargs={"search_id": int(saved_id)})
    query = urlencode(
        {
            key: request.POST.get(key, "")
            for key in ("f", "results", "sort")
            if request.POST.get(key)
        }
    )
    return f"{reverse('search:search')}?{query}"


@web_view
def follow_up(request: HttpRequest) -> HttpResponseBase:
    """Select and Send to the people of the selection (or of all results), with its
    per-recipient preview, each copy threaded onto the email that person engaged with. Only
    one's own people can be emailed."""
    selection = _acting_on(request)
    if isinstance(selection, HttpResponseBase):
        return selection
    group, scope, results, sort = selection
    user = signed_in_user(request)
    try:
        chosen = actions.follow_up(user, group, scope, results=results, sort=sort)
    except actions.TooManyPeople:
        messages.error(
            request,
            _("A follow-up goes to at most %(n)d people; narrow the search or pick rows.")
            % {"n": MAX_SELECT_AND_SEND},
        )
        return redirect(_back(request))
    if chosen.refused:
        messages.warning(request, _refused_summary(len(chosen.refused)))
    if not chosen.people:
        messages.error(request, _("Choose one or more of your own results to follow up."))
        return redirect(_back(request))
    threads = [("thread", chosen.threads[p.pk].pk) for p in chosen.people if p.pk in chosen.threads]
    others = [("person", p.pk) for p in chosen.people if p.pk not in chosen.threads]
    query = urlencode([("mode", "select_and_send"), *threads, *others])
    return redirect(f"{reverse('web:compose_bulk')}?{query}")


def _refused_summary(n: int) -> str:
    return ngettext(
        "%(n)d result is someone else's person and was left out.",
        "%(n)d results are other people's and were left out.",
        n,
    ) % {"n": n}


def _chosen(request: HttpRequest) -> list[actions.Chosen] | HttpResponseBase:
    selection = _acting_on(request)
    if isinstance(selection, HttpResponseBase):
        return selection
    group, scope, results, sort = selection
    try:
        return actions.chosen_people(group, scope, results=results, sort=sort)
    except actions.TooManyPeople as error:
        messages.error(request, str(error))
        return redirect(_back(request))


@web_view
@require_POST
def tasks_for_each(request: HttpRequest) -> HttpResponseBase:
    """A task for each person of the selection: how many were made, who was refused, why."""
    chosen = _chosen(request)
    if isinstance(chosen, HttpResponseBase):
        return chosen
    user = signed_in_user(request)
    fields = TaskFields(
        type=request.POST.get("task_type", ""),
        priority=request.POST.get("task_priority") or None,
        title=request.POST.get("task_title", "").strip()[:300] or None,
        due_at=_due(request, user),
        all_day=True,
        notes=request.POST.get("task_notes", "")[:20_000] or None,
    )
    try:
        outcome = actions.tasks_for_each(user, chosen, fields)
    except TaskError as error:
        return _refused(request, error.errors.values())
    summary = ngettext("%(n)d task made.", "%(n)d tasks made.", len(outcome.made)) % {
        "n": len(outcome.made)
    }
    return _outcome_page(request, _("Tasks for each"), summary, outcome)


def _refused(request: HttpRequest, problems: Iterable[str]) -> HttpResponseBase:
    """Back to the results, saying why nothing was done."""
    for message in problems:
        messages.error(request, message)
    return redirect(_back(request))


def _due(request: HttpRequest, user: User) -> dt.datetime | None:
    """The tasks' due day (the start of it in the rep's zone); None when it is not a date."""
    try:
        day = dt.date.fromisoformat(request.POST.get("task_due", "")[:10])
    except ValueError:
        return None
    return whole_day(day, user)


@web_view
@require_POST
def enrol_in_campaign(request: HttpRequest) -> HttpResponseBase:
    """Enrol the people of the selection in a campaign: how many went in, who was refused
    and why."""
    user = signed_in_user(request)
    raw = request.POST.get("campaign", "")
    campaign = actions.usable_campaign(user, int(raw) if raw.isdigit() and len(raw) < 18 else 0)
    if campaign is None:
        messages.error(request, _("Choose a campaign of yours or of your team."))
        return redirect(_back(request))
    chosen = _chosen(request)
    if isinstance(chosen, HttpResponseBase):
        return chosen
    try:
        outcome = actions.enrol_each(user, campaign, chosen)
    except CampaignError as error:
        return _refused(request, error.errors.values())
    summary = ngettext(
        "Enrolled %(n)d person in %(campaign)s.",
        "Enrolled %(n)d people in %(campaign)s.",
        len(outcome.made),
    ) % {"n": len(outcome.made), "campaign": campaign.name}
    return _outcome_page(
        request, _("Enrol in a campaign"), summary, outcome, link=("web:campaign", campaign.pk)
    )


def _outcome_page(
    request: HttpRequest,
    title: str,
    summary: str,
    outcome: actions.Outcome,
    link: tuple[str, int] | None = None,
) -> HttpResponseBase:
    return render(
        request,
        "search/acted.html",
        {
            "title": title,
            "summary": summary,
            "made": len(outcome.made),
            "refused": outcome.refused,
            "back": _back(request),
            "link": reverse(link[0], args=[link[1]]) if link else "",
        },
    )


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
