"""People: list and search, add, edit, do-not-contact, and CSV import with a preview."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from commandcenter.campaigns import builder
from commandcenter.campaigns.models import Campaign
from commandcenter.outbox.compose import refresh_previews
from commandcenter.outbox.reasons import explain
from commandcenter.people.importer import import_people_csv
from commandcenter.people.models import Person, Suppression
from commandcenter.people.services import lift_suppression, set_do_not_contact
from commandcenter.people.timeline import person_timeline
from commandcenter.web.decorators import web_view
from commandcenter.web.forms import ImportForm, PersonForm
from commandcenter.web.people_rows import people_list, person_rows
from commandcenter.web.scope import scope_for, signed_in_user

PEOPLE_PER_PAGE = 50
MAX_CSV_BYTES = 5 * 1024 * 1024


@web_view
def people(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request)
    search = request.GET.get("q", "").strip()[:200]
    paginator = Paginator(
        people_list(scope.owner_ids, search).order_by("last_name", "first_name", "email", "pk"),
        PEOPLE_PER_PAGE,
    )
    page = paginator.get_page(request.GET.get("page"))
    user = signed_in_user(request)
    campaigns = Campaign.objects.filter(builder.visible_campaigns(user, scope.owner_ids)).order_by(
        "name"
    )
    context = {
        "page": page,
        "rows": person_rows(list(page.object_list)),
        "search": search,
        "scope": scope,
        "is_admin": user.is_admin,
        "campaigns": campaigns,
    }
    return render(request, "web/people.html", context)


@web_view
def person_form(request: HttpRequest, person_id: int | None = None) -> HttpResponse:
    user = signed_in_user(request)
    person = get_object_or_404(Person, pk=person_id, owner=user) if person_id else None
    form = PersonForm(request.POST or None, instance=person, owner=user)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        refresh_previews([saved.pk])
        messages.success(request, _("Saved %(person)s.") % {"person": saved})
        return redirect("web:people")
    return render(request, "web/person_form.html", {"form": form, "person": person})


@web_view
@require_POST
def do_not_contact(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person, pk=person_id, owner=signed_in_user(request))
    on = request.POST.get("value") != "off"
    set_do_not_contact(person, on, request.POST.get("reason", "")[:500])
    if person.do_not_contact:
        messages.success(request, _("%(person)s is marked do-not-contact.") % {"person": person})
    else:
        messages.success(request, _("%(person)s may be contacted again.") % {"person": person})
    return redirect("web:people")


@web_view
def lift_suppression_view(request: HttpRequest, suppression_id: int) -> HttpResponse:
    """An admin lifts a suppression: a page of its own that says what it means, a reason
    required, an event kept."""
    user = signed_in_user(request)
    if not user.is_admin:
        raise PermissionDenied
    suppression = get_object_or_404(Suppression, pk=suppression_id)
    error = ""
    if request.method == "POST":
        try:
            lift_suppression(user, suppression, request.POST.get("reason", "")[:500])
        except ValidationError as problem:
            error = problem.messages[0]
        else:
            messages.success(
                request,
                _("%(value)s is off the suppression list; emails may go to it again.")
                % {"value": suppression.value},
            )
            return redirect("web:people")
    context = {
        "suppression": suppression,
        "error": error,
        "people": Person.objects.filter(email__iexact=suppression.value).count()
        if suppression.kind == Suppression.Kind.ADDRESS
        else Person.objects.filter(email__iendswith="@" + suppression.value).count(),
        "reason": explain(suppression.reason).html(),
    }
    return render(request, "web/suppression_lift.html", context)


@web_view
def import_people(request: HttpRequest) -> HttpResponse:
    """Upload shows a preview (a dry run); confirming imports exactly the previewed file."""
    user = signed_in_user(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = _csv_text(form)
        if data is not None:
            confirmed = request.POST.get("confirmed") == "yes"
            report = import_people_csv(user, data, dry_run=not confirmed)
            if confirmed and not report.errors:
                messages.success(
                    request,
                    _("Imported: %(created)d new, %(updated)d updated.")
                    % {"created": report.created, "updated": report.updated},
                )
                return redirect("web:people")
            context.update(report=report, csv_text=data)
    return render(request, "web/import.html", context)


def _csv_text(form: ImportForm) -> str | None:
    upload = form.cleaned_data.get("file")
    if upload is None:
        text = form.cleaned_data.get("csv_text") or ""
        if not text:
            form.add_error("file", _("Choose a CSV file."))
            return None
        return text
    if upload.size > MAX_CSV_BYTES:
        form.add_error("file", _("The file is larger than 5 MB."))
        return None
    raw = upload.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.add_error("file", _("The file is not UTF-8 text."))
        return None


@web_view
def person_page(request: HttpRequest, person_id: int) -> HttpResponse:
    """Everything about one prospect, newest first: emails with their events, tasks,
    campaigns."""
    scope = scope_for(request)
    person = get_object_or_404(Person, pk=person_id, owner_id__in=scope.owner_ids)
    return render(
        request,
        "web/person.html",
        {
            "person": person,
            "timeline": person_timeline(person),
            "scope": scope,
            "enrolments": person.enrolments.select_related("campaign", "next_step").order_by("-pk"),
        },
    )
