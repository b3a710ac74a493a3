"""Campaign pages: the list with statistics, the builder, a campaign with its funnel, steps,
people and preview, enrolling (one, a selection from People, a CSV), pause and resume."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from commandcenter.accounts.models import User
from commandcenter.campaigns import builder, enrol, mailing, queries, throttle
from commandcenter.campaigns.builder import CampaignError, StepSpec
from commandcenter.campaigns.models import Campaign, Enrolment, SendingPolicy, Step
from commandcenter.outbox.merge import MissingMergeField
from commandcenter.people.models import Person
from commandcenter.web.decorators import web_view
from commandcenter.web.scope import scope_for, signed_in_user

BLANK_ROWS = 2
MAX_CSV_BYTES = 5 * 1024 * 1024
PEOPLE_SHOWN = 500
STEP_TYPES = [
    ("auto_email", gettext_lazy("Automatic email")),
    ("manual_email", gettext_lazy("Manual email (a task)")),
    ("call", gettext_lazy("Call")),
    ("linkedin", gettext_lazy("LinkedIn")),
    ("custom", gettext_lazy("Custom task")),
]
FIELDS = ("id", "day", "type", "time", "subject", "body_text", "body_html", "thread", "notes")


def _visible(request: HttpRequest) -> Q:
    scope = scope_for(request)
    return builder.visible_campaigns(signed_in_user(request), scope.owner_ids)


@web_view
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = list(
        Campaign.objects.filter(_visible(request)).select_related("owner").order_by("-pk")[:200]
    )
    stats = {c.pk: queries.campaign_stats(c) for c in campaigns}
    rows = [(c, stats[c.pk]) for c in campaigns]
    return render(request, "web/campaigns.html", {"rows": rows, "scope": scope_for(request)})


@dataclass
class StepRow:
    index: int
    values: dict[str, Any]
    errors: dict[str, str]


def _rows_from_post(request: HttpRequest) -> list[dict[str, Any]]:
    count = min(
        int(request.POST.get("rows", "0") or 0) if request.POST.get("rows", "").isdigit() else 0,
        builder.MAX_STEPS + 5,
    )
    rows = []
    for i in range(count):
        values: dict[str, Any] = {name: request.POST.get(f"step-{i}-{name}", "") for name in FIELDS}
        values["thread"] = request.POST.get(f"step-{i}-thread") == "on"
        if request.POST.get(f"step-{i}-remove") == "on":
            continue
        if (
            not values["id"]
            and not str(values["day"]).strip()
            and not values["subject"]
            and not values["body_text"]
        ):
            continue  # an unused blank row
        rows.append(values)
    return rows


def _specs(rows: list[dict[str, Any]]) -> tuple[list[StepSpec], dict[str, str]]:
    errors: dict[str, str] = {}
    specs = []
    for index, values in enumerate(rows):
        day: object = values["day"]
        if isinstance(day, str) and day.strip().lstrip("-").isdigit():
            day = int(day)
        time = None
        if values["time"]:
            try:
                time = builder.parse_time(values["time"])
            except ValueError as error:
                errors[f"steps[{index}].time"] = str(error)
        specs.append(
            StepSpec(
                id=int(values["id"]) if str(values["id"]).isdigit() else None,
                day=day,
                type=values["type"],
                time=time,
                subject=values["subject"],
                body_text=values["body_text"],
                body_html=values["body_html"],
                thread=bool(values["thread"]),
                notes=values["notes"],
            )
        )
    return specs, errors


def _step_rows(rows: list[dict[str, Any]], errors: dict[str, str]) -> list[StepRow]:
    shown = [
        *rows,
        *(
            {
                "id": "",
                "day": "",
                "type": "call",
                "time": "",
                "subject": "",
                "body_text": "",
                "body_html": "",
                "thread": False,
                "notes": "",
            }
            for _ in range(BLANK_ROWS)
        ),
    ]
    return [
        StepRow(
            i,
            values,
            {k.split(".", 1)[1]: v for k, v in errors.items() if k.startswith(f"steps[{i}].")},
        )
        for i, values in enumerate(shown)
    ]


def _rows_of(campaign: Campaign) -> list[dict[str, Any]]:
    return [
        {
            "id": s.pk,
            "day": s.day,
            "type": s.type,
            "time": s.time.strftime("%H:%M") if s.time else "",
            "subject": s.subject,
            "body_text": s.body_text,
            "body_html": s.body_html,
            "thread": s.thread,
            "notes": s.notes,
        }
        for s in builder.live_steps(campaign)
    ]


@web_view
def campaign_builder(request: HttpRequest, campaign_id: int | None = None) -> HttpResponse:
    """New campaign, or edit one: name, options and the steps (templates with merge fields)."""
    user = signed_in_user(request)
    campaign = get_object_or_404(Campaign, pk=campaign_id, owner=user) if campaign_id else None
    errors: dict[str, str] = {}
    if request.method == "POST":
        rows = _rows_from_post(request)
        specs, errors = _specs(rows)
        name = request.POST.get("name", "")
        skip = request.POST.get("skip_weekends") == "on"
        shared = request.POST.get("shared_with_team") == "on"
        strand = request.POST.get("strand_to", "")
        if not errors:
            try:
                if campaign is None:
                    campaign = builder.create_campaign(
                        user, name=name, steps=specs, skip_weekends=skip, shared_with_team=shared
                    )
                else:
                    builder.update_campaign(
                        user,
                        campaign,
                        name=name,
                        steps=specs,
                        skip_weekends=skip,
                        shared_with_team=shared,
                        strand_to=int(strand) - 1 if strand.isdigit() else None,
                    )
            except CampaignError as error:
                errors = error.errors
            else:
                messages.success(request, _("Campaign saved."))
                return redirect("web:campaign", campaign_id=campaign.pk)
        values = {"name": name, "skip_weekends": skip, "shared_with_team": shared}
    else:
        rows = (
            _rows_of(campaign)
            if campaign
            else [
                {
                    "id": "",
                    "day": 1,
                    "type": "auto_email",
                    "time": "09:00",
                    "subject": "",
                    "body_text": "",
                    "body_html": "",
                    "thread": False,
                    "notes": "",
                }
            ]
        )
        values = {
            "name": campaign.name if campaign else "",
            "skip_weekends": campaign.skip_weekends if campaign else True,
            "shared_with_team": campaign.shared_with_team if campaign else False,
        }
    step_rows = _step_rows(rows, errors)
    context = {
        "campaign": campaign,
        "values": values,
        "step_rows": step_rows,
        "rows": len(step_rows),
        "errors": {k: v for k, v in errors.items() if not k.startswith("steps[")},
        "step_types": STEP_TYPES,
        "fields": sorted(mailing.known_fields(user)),
    }
    return render(request, "web/campaign_builder.html", context)


def _preview(
    campaign: Campaign, person: Person | None, owner: User
) -> list[tuple[Step, str, str, str]]:
    if person is None:
        return []
    shown = []
    for step in builder.live_steps(campaign):
        if not step.is_email:
            continue
        variant = step.variants.first()
        source = variant or step
        try:
            subject = mailing.preview(source.subject, person, owner)
            body = mailing.preview(source.body_text, person, owner)
            shown.append((step, subject, body, ""))
        except MissingMergeField as error:
            shown.append((step, "", "", str(error)))
    return shown


@web_view
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    user = signed_in_user(request)
    scope = scope_for(request)
    campaign = get_object_or_404(
        Campaign.objects.filter(_visible(request)).select_related("owner"), pk=campaign_id
    )
    stats = queries.campaign_stats(campaign)
    people = Enrolment.objects.filter(campaign=campaign)
    if campaign.owner_id not in scope.owner_ids:
        # A teammate's shared campaign: its numbers, but only one's own people in it.
        people = people.filter(owner_id__in=scope.owner_ids)
    people = people.select_related("person", "next_step").order_by("state", "next_at", "pk")
    state = request.GET.get("state", "")
    if state in ("active", "paused", "finished", "exited"):
        people = people.filter(state=state)
    raw = request.GET.get("preview", "")
    person = (
        Person.objects.filter(pk=int(raw), owner_id__in=scope.owner_ids).first()
        if raw.isdigit() and len(raw) < 18
        else None
    )
    funnel = queries.funnel(stats)
    top = max(funnel[0][1], 1)
    context = {
        "campaign": campaign,
        "stats": stats,
        "steps": builder.live_steps(campaign),
        "people": people[:PEOPLE_SHOWN],
        "people_total": people.count(),
        "state": state,
        "funnel": [(label, n, round(560 * n / top), i * 44) for i, (label, n) in enumerate(funnel)],
        "funnel_labels": FUNNEL_LABELS,
        "exit_labels": EXIT_LABELS,
        "preview_person": person,
        "preview": _preview(campaign, person, campaign.owner),
        "preview_choices": Person.objects.filter(owner_id__in=scope.owner_ids).order_by("email")[
            :200
        ],
        "is_owner": campaign.owner_id == user.pk and scope.is_own,
        "scope": scope,
    }
    return render(request, "web/campaign.html", context)


EXIT_LABELS = {
    "replied": gettext_lazy("replied"),
    "bounced": gettext_lazy("bounced"),
    "unsubscribed": gettext_lazy("unsubscribed"),
    "spam": gettext_lazy("marked as spam"),
    "removed": gettext_lazy("removed by hand"),
    "stopped": gettext_lazy("campaign stopped"),
}
FUNNEL_LABELS = {
    "enrolled": gettext_lazy("Enrolled"),
    "sent": gettext_lazy("Sent"),
    "viewed": gettext_lazy("Viewed"),
    "clicked": gettext_lazy("Clicked"),
    "replied": gettext_lazy("Replied"),
}


@web_view
@require_POST
def campaign_state(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id, owner=signed_in_user(request))
    if request.POST.get("do") == "pause":
        builder.pause(campaign)
        messages.success(
            request, _("The campaign is paused: nothing of it runs until you resume it.")
        )
    elif request.POST.get("do") == "stop":
        builder.stop(campaign)
        messages.success(request, _("The campaign is stopped: everyone in it has exited."))
    else:
        builder.resume(campaign)
        messages.success(request, _("The campaign goes on: everyone from their own place."))
    return redirect("web:campaign", campaign_id=campaign.pk)


def _report(request: HttpRequest, result: enrol.EnrolResult) -> None:
    messages.success(request, _("Enrolled %(n)d.") % {"n": len(result.enrolled)})
    for refusal in result.refused[:20]:
        messages.error(request, f"{refusal.address}: {refusal.reason}")
    if len(result.refused) > 20:
        messages.error(request, _("And %(n)d more refused.") % {"n": len(result.refused) - 20})


def _csv_addresses(upload: Any) -> list[str] | str:
    """The addresses of a CSV (the column named email, else the first); or what is wrong."""
    if upload.size > MAX_CSV_BYTES:
        return _("The file is larger than 5 MB.")
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _("The file is not UTF-8 text.")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return _("The file is empty.")
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index("email") if "email" in header else 0
    body = rows[1:] if "email" in header else rows
    return [row[column].strip() for row in body if len(row) > column and row[column].strip()]


@web_view
@require_POST
def campaign_enrol(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Enrol typed addresses, a CSV, or the people ticked on the People page."""
    return _enrol_from(request, campaign_id)


def _enrol_from(request: HttpRequest, campaign_id: int) -> HttpResponse:
    user = signed_in_user(request)
    campaign = get_object_or_404(Campaign.objects.filter(_visible(request)), pk=campaign_id)
    ids = [int(raw) for raw in request.POST.getlist("person") if raw.isdigit() and len(raw) < 18]
    addresses: list[str] | str = list(
        Person.objects.filter(owner=user, pk__in=ids).values_list("email", flat=True)
    )
    if request.FILES.get("file"):
        addresses = _csv_addresses(request.FILES["file"])
    elif not ids:
        from commandcenter.web.forms import split_addresses

        addresses = split_addresses(request.POST.get("addresses", ""))
    if isinstance(addresses, str):
        messages.error(request, addresses)
        return redirect("web:campaign", campaign_id=campaign.pk)
    try:
        _report(request, enrol.enrol(user, campaign, addresses))
    except CampaignError as error:
        for message in list(error.errors.values())[:20]:
            messages.error(request, message)
    return redirect("web:campaign", campaign_id=campaign.pk)


@web_view
def people_enrol(request: HttpRequest) -> HttpResponse:
    """From the People page: GET shows the ticked people and the chosen campaign to confirm
    (the People form is a GET, which must not carry a CSRF token); POST enrols them."""
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("campaign", "")
    campaign = (
        Campaign.objects.filter(_visible(request), pk=int(raw)).first()
        if raw.isdigit() and len(raw) < 18
        else None
    )
    if campaign is None:
        messages.error(request, _("Choose a campaign."))
        return redirect("web:people")
    if request.method == "POST":
        return _enrol_from(request, campaign.pk)
    ids = [int(r) for r in data.getlist("person") if r.isdigit() and len(r) < 18][: enrol.MAX_ENROL]
    people = Person.objects.filter(owner=signed_in_user(request), pk__in=ids).order_by("email")
    return render(request, "web/enrol_confirm.html", {"campaign": campaign, "people": people})


@web_view
@require_POST
def enrolment_remove(request: HttpRequest, campaign_id: int, enrolment_id: int) -> HttpResponse:
    user = signed_in_user(request)
    enrolment = get_object_or_404(Enrolment, pk=enrolment_id, campaign_id=campaign_id, owner=user)
    if enrol.remove(user, enrolment):
        messages.success(
            request, _("%(person)s was removed from the campaign.") % {"person": enrolment.person}
        )
    else:
        messages.error(request, _("This person is no longer in the campaign."))
    return redirect("web:campaign", campaign_id=campaign_id)


DAY_LABELS = [
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
]


@web_view
def sending_settings(request: HttpRequest) -> HttpResponse:
    """The user's sending window (days and hours in the recipient's zone) and throttles."""
    user = signed_in_user(request)
    policy = SendingPolicy.objects.filter(user=user).first() or SendingPolicy(user=user)
    errors: dict[str, str] = {}
    if request.method == "POST":
        fields, errors = _policy_fields(request)
        if not errors:
            try:
                throttle.save_policy(user.pk, **fields)
            except throttle.PolicyError as error:
                errors = error.errors
            else:
                messages.success(request, _("Sending window and limits saved."))
                return redirect("web:sending")
        for name, value in fields.items():
            setattr(policy, name, value)
    context = {"policy": policy, "errors": errors, "days": list(enumerate(DAY_LABELS))}
    return render(request, "web/sending.html", context)


def _policy_fields(request: HttpRequest) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {
        "days": [int(d) for d in request.POST.getlist("days") if d in "0123456" and d]
    }
    for name in ("start_time", "end_time"):
        try:
            fields[name] = builder.parse_time(request.POST.get(name, ""))
        except ValueError as error:
            errors[name] = str(error)
    for name in ("daily_cap", "burst_count", "burst_seconds", "ooo_pause_days"):
        raw = request.POST.get(name, "").strip()
        if not raw:
            fields[name] = None if name != "ooo_pause_days" else 7
        elif raw.isdigit() and len(raw) < 9:
            fields[name] = int(raw)
        else:
            errors[name] = _("A whole number.")
    return fields, errors
