"""The Tasks section: six views with counts in the user's zone, filters, sort, actions on one
task or a selection, "Start tasks", a new-task form and the calendar feed."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from commandcenter.accounts.models import User
from commandcenter.campaigns.models import Campaign
from commandcenter.lib.zones import zone
from commandcenter.tasks import calendar, services
from commandcenter.tasks.models import Task
from commandcenter.tasks.queries import (
    SNOOZE_PRESETS,
    VIEWS,
    Days,
    Filters,
    due_queue,
    snooze_until,
    view_counts,
    view_tasks,
)
from commandcenter.tasks.states import TaskRefused, TaskStatus
from commandcenter.web.decorators import web_view
from commandcenter.web.scope import scope_for, signed_in_user

TASKS_PER_PAGE = 50
VIEW_LABELS = {
    "overdue": gettext_lazy("Overdue"),
    "today": gettext_lazy("Today"),
    "tomorrow": gettext_lazy("Tomorrow"),
    "upcoming": gettext_lazy("Upcoming"),
    "completed": gettext_lazy("Completed"),
    "skipped": gettext_lazy("Skipped"),
}
TYPE_LABELS = {
    "email": gettext_lazy("Email"),
    "call": gettext_lazy("Call"),
    "linkedin": gettext_lazy("LinkedIn"),
    "custom": gettext_lazy("Custom"),
}
SNOOZE_LABELS = {
    "hour": gettext_lazy("An hour"),
    "tomorrow": gettext_lazy("Tomorrow morning"),
    "next_week": gettext_lazy("Next week"),
}
OUTCOME_LABELS = {
    "connected": gettext_lazy("Connected"),
    "voicemail": gettext_lazy("Left voicemail"),
    "no_answer": gettext_lazy("No answer"),
    "busy": gettext_lazy("Busy"),
    "wrong_number": gettext_lazy("Wrong number"),
    "other": gettext_lazy("Other"),
}


class TaskForm(forms.Form):
    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=list(TYPE_LABELS.items()))
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"),
        choices=[("normal", gettext_lazy("Normal")), ("high", gettext_lazy("High"))],
    )
    title = forms.CharField(label=gettext_lazy("Title"), required=False, max_length=300)
    person = forms.CharField(
        label=gettext_lazy("Person (email address)"), required=False, max_length=254
    )
    date = forms.DateField(
        label=gettext_lazy("Due date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    time = forms.TimeField(
        label=gettext_lazy("Time (empty: the whole day)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


def _days(user: User) -> Days:
    return Days.at(timezone.now(), zone(user.time_zone))


def _filters(request: HttpRequest) -> Filters:
    raw_campaign = request.GET.get("campaign", "")
    return Filters(
        type=request.GET.get("type", "") if request.GET.get("type") in TYPE_LABELS else "",
        priority=request.GET.get("priority", "")
        if request.GET.get("priority") in ("normal", "high")
        else "",
        campaign=int(raw_campaign) if raw_campaign.isdigit() and len(raw_campaign) < 18 else None,
    )


@web_view
@require_GET
def task_list(request: HttpRequest, view: str = "today") -> HttpResponse:
    if view not in VIEWS:
        raise Http404
    user = signed_in_user(request)
    scope = scope_for(request)
    days = _days(user)
    filters = _filters(request)
    sort = request.GET.get("sort", "due") if request.GET.get("sort") == "priority" else "due"
    counts = view_counts(scope.owner_ids, days, filters)
    raw_page = request.GET.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < len(raw_page) < 6 else 1
    start = (max(page, 1) - 1) * TASKS_PER_PAGE
    tasks = list(
        view_tasks(scope.owner_ids, view, days, filters=filters, sort=sort)[
            start : start + TASKS_PER_PAGE
        ]
    )
    for task in tasks:
        # Worked out once here: lookups in a template loop are the slow part of a long page.
        task.type_label = TYPE_LABELS[task.type]  # type: ignore[attr-defined]
        task.due_label = timezone.localtime(task.due_at).strftime(  # type: ignore[attr-defined]
            "%Y-%m-%d" if task.all_day else "%Y-%m-%d %H:%M"
        )
    query = request.GET.urlencode()
    context = {
        "view": view,
        "views": [(name, VIEW_LABELS[name], counts[name]) for name in VIEWS],
        "tasks": tasks,
        "filters": filters,
        "sort": sort,
        "query": query,
        "scope": scope,
        "types": TYPE_LABELS.items(),
        "campaigns": Campaign.objects.filter(owner_id__in=scope.owner_ids).order_by("name"),
        "snoozes": SNOOZE_LABELS.items(),
        "outcomes": OUTCOME_LABELS.items(),
        "teammates": User.objects.filter(team_id=user.team_id)
        .exclude(pk=user.pk)
        .order_by("username")
        if user.team_id
        else [],
        "open_view": view not in ("completed", "skipped"),
        "page": max(page, 1),
        "pages": max(1, -(-counts[view] // TASKS_PER_PAGE)),
        "more": counts[view] > start + len(tasks),
        "query_without_page": _without(request, "page"),
        "type_labels": TYPE_LABELS,
        "task_url": reverse("web:task", args=[0]).removesuffix("0/"),
        "person_url": reverse("web:person", args=[0]).removesuffix("0/"),
        "campaign_url": reverse("web:campaign", args=[0]).removesuffix("0/"),
        "text": {
            "select": _("Select"),
            "complete": _("Complete"),
            "skip": _("Skip"),
            "snooze": _("Snooze"),
            "delete": _("Delete"),
            "high": _("High"),
            "normal": _("Normal"),
        },
    }
    return render(request, "web/tasks.html", context)


def _without(request: HttpRequest, name: str) -> str:
    query = request.GET.copy()
    query.pop(name, None)
    return query.urlencode()


def _next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return fallback
    return target


def _selected(request: HttpRequest, user: User) -> list[Task]:
    raw = request.POST.getlist("ids")
    one = request.POST.get("one", "")
    if one:
        raw = [one.split(":", 1)[0]]
    ids = [int(r) for r in raw if r.isdigit() and len(r) < 18]
    return list(Task.objects.filter(pk__in=ids, assignee=user).exclude(status=TaskStatus.DELETED))


def _action(request: HttpRequest) -> str:
    one = request.POST.get("one", "")
    return one.split(":", 1)[1] if ":" in one else request.POST.get("action", "")


@web_view
@require_POST
def task_actions(request: HttpRequest) -> HttpResponse:
    """Complete, skip, snooze (a preset or a date), reassign or delete one task or many."""
    user = signed_in_user(request)
    back = _next(request, reverse("web:tasks"))
    tasks = _selected(request, user)
    action = _action(request)
    if not tasks:
        messages.error(request, _("Choose at least one task."))
        return redirect(back)
    email_tasks = [t for t in tasks if t.type == Task.Type.EMAIL and t.person_id]
    if action == "complete" and len(tasks) == 1 and email_tasks:
        # Completing an Email task means writing the email: compose, filled in for the person.
        return redirect(f"{reverse('web:compose')}?task={tasks[0].pk}")
    try:
        done = _run(request, user, tasks, action)
    except (TaskRefused, services.TaskError) as error:
        messages.error(request, str(error))
        return redirect(back)
    if done is None:
        messages.error(request, _("Unknown action."))
    else:
        messages.success(
            request,
            ngettext("%(n)d task updated.", "%(n)d tasks updated.", len(done)) % {"n": len(done)},
        )
    return redirect(back)


def _run(request: HttpRequest, user: User, tasks: list[Task], action: str) -> list[int] | None:
    if action == "complete":
        return services.complete(
            user,
            tasks,
            outcome=request.POST.get("outcome", ""),
            outcome_notes=request.POST.get("outcome_notes", "")[:20_000],
        )
    if action == "skip":
        return services.skip(user, tasks)
    if action == "delete":
        return services.delete(user, tasks)
    if action.startswith("snooze-"):
        return services.snooze(
            user, tasks, _snooze_moment(request, user, action.removeprefix("snooze-"))
        )
    if action == "reassign":
        raw = request.POST.get("assignee", "")
        assignee = (
            User.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 18 else None
        )
        if assignee is None:
            raise services.TaskError({"assignee": _("Choose a teammate.")})
        return services.reassign(user, tasks, assignee)
    return None


def _snooze_moment(request: HttpRequest, user: User, preset: str) -> dt.datetime:
    where = zone(user.time_zone)
    if preset in SNOOZE_PRESETS:
        return snooze_until(preset, timezone.now(), where)
    if preset == "date":
        try:
            day = dt.date.fromisoformat(request.POST.get("until", ""))
        except ValueError:
            raise services.TaskError({"until": _("Choose a date to snooze to.")}) from None
        return dt.datetime.combine(day, dt.time(9, 0)).replace(tzinfo=where)
    raise services.TaskError({"until": _("Unknown snooze.")})


@web_view
def task_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    initial = {"date": timezone.localdate(), "person": request.GET.get("person", "")[:254]}
    form = TaskForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        where = zone(user.time_zone)
        due = dt.datetime.combine(data["date"], data["time"] or dt.time(0, 0)).replace(tzinfo=where)
        try:
            services.create_task(
                user,
                services.TaskFields(
                    type=data["type"],
                    priority=data["priority"],
                    title=data["title"],
                    person=data["person"],
                    due_at=due,
                    all_day=data["time"] is None,
                    notes=data["notes"],
                ),
            )
        except services.TaskError as error:
            for name, message in error.errors.items():
                form.add_error(name if name in form.fields else None, message)
        else:
            messages.success(request, _("Task added."))
            return redirect("web:tasks")
    return render(request, "web/task_form.html", {"form": form})


@web_view
def task_flow(request: HttpRequest) -> HttpResponse:
    """ "Start tasks": the due open tasks one after another — do it, skip, snooze, next."""
    user = signed_in_user(request)
    queue = due_queue(user.pk, _days(user)).select_related("person", "campaign", "step")
    passed = [int(p) for p in request.GET.get("passed", "").split(",") if p.isdigit()][:500]
    remaining = queue.exclude(pk__in=passed).order_by("due_at", "id")
    task = remaining.first()
    context = {
        "task": task,
        "left": remaining.count(),
        "passed": ",".join(map(str, passed)),
        "next_passed": ",".join(map(str, [*passed, task.pk])) if task else "",
        "snoozes": SNOOZE_LABELS.items(),
        "outcomes": OUTCOME_LABELS.items(),
        "type_labels": TYPE_LABELS,
    }
    return render(request, "web/task_flow.html", context)


@web_view
@require_GET
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    scope = scope_for(request)
    task = get_object_or_404(
        Task.objects.exclude(status=TaskStatus.DELETED).select_related(
            "person", "campaign", "step"
        ),
        pk=task_id,
        assignee_id__in=scope.owner_ids,
    )
    return render(
        request,
        "web/task.html",
        {"task": task, "events": task.events.select_related("actor"), "type_labels": TYPE_LABELS},
    )


@web_view
def calendar_settings(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if request.method == "POST":
        calendar.renew_feed(user)
        messages.success(
            request, _("A new calendar address was made; the old one no longer works.")
        )
        return redirect("web:calendar")
    feed = calendar.feed_for(user)
    url = request.build_absolute_uri(reverse("web:calendar_feed", args=[feed.token]))
    return render(request, "web/calendar.html", {"url": url})


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The secret iCalendar URL: no sign-in (calendar apps cannot), the token is the key."""
    user = calendar.user_for_feed(token)
    if user is None:
        raise Http404
    response = HttpResponse(
        calendar.calendar_bytes(user), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
