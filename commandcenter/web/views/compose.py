"""Compose: a single email (send now, schedule, draft), edit, Select and Send, and Group.

The views turn form fields into calls of outbox.compose and show its ComposeError messages
next to the fields; nothing here decides what is allowed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from commandcenter.accounts.models import User
from commandcenter.outbox.compose import (
    EDITABLE,
    MAX_GROUP,
    MAX_SELECT_AND_SEND,
    ComposeError,
    Content,
    Recipient,
    compose_bulk,
    compose_single,
    edit_email,
)
from commandcenter.outbox.merge import MissingMergeField
from commandcenter.outbox.merge import render as render_merge
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reasons, normalise_address
from commandcenter.tasks import email_tasks
from commandcenter.web.decorators import web_view
from commandcenter.web.forms import BulkEmailForm, ScheduleFields, SingleEmailForm
from commandcenter.web.scope import signed_in_user

INTENTS = ("send", "schedule", "draft")
COPY_FIELDS = ("subject", "body_text", "body_html")


def show_errors(form: forms.Form, error: ComposeError) -> None:
    """Put each of the domain's messages next to its field (the send time next to the date)."""
    for key, message in error.errors.items():
        name = "date" if key == "send_at" else key
        form.add_error(name if name in form.fields else None, message)


def _when(form: ScheduleFields, intent: str) -> dt.datetime | None:
    """The send time the pressed button asks for: now, the form's date and time, or none."""
    if intent == "schedule":
        return form.send_at()
    if intent == "send":
        return timezone.now()
    return None


def _initial_schedule(user: User) -> dict[str, object]:
    return {"time_zone": user.time_zone or "UTC"}


@web_view
def compose(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    intent = request.POST.get("intent", "send")
    # ?task=ID: an Email task being done (tasks/email_tasks.py).
    task = email_tasks.open_email_task(user, request.GET.get("task", ""))
    if request.method != "POST":
        initial = {**_initial_schedule(user), "to": request.GET.get("to", "")[:254]}
        if task is not None:
            initial.update(email_tasks.compose_initial(task))
        form = SingleEmailForm(initial=initial)
    else:
        form = SingleEmailForm(request.POST)
        if intent in INTENTS and form.is_valid():
            email = _compose_single(user, form, intent)
            if email is not None and task is not None and intent != "draft":
                email_tasks.email_sent_for(user, task, email)
            if email is not None:
                messages.success(request, _sent_message(email))
                return redirect("web:folder", name=email.status)
    return render(request, "web/compose.html", {"form": form})


def _single_email_fields(form: SingleEmailForm, intent: str) -> dict[str, Any] | None:
    """What the single-email form asks compose_single / edit_email for; None on form errors."""
    send_at = _when(form, intent)
    if form.errors:
        return None
    data = form.cleaned_data
    return {
        "to": data["to"],
        "subject": data["subject"],
        "body_text": data["body_text"],
        "body_html": data["body_html"],
        "send_at": send_at,
        "draft": intent == "draft",
    }


def _compose_single(user: User, form: SingleEmailForm, intent: str) -> Email | None:
    fields = _single_email_fields(form, intent)
    if fields is None:
        return None
    try:
        return compose_single(user, **fields)
    except ComposeError as error:
        show_errors(form, error)
        return None


def _sent_message(email: Email) -> str:
    if email.status == Status.DRAFT:
        return _("Draft saved.")
    if email.status == Status.FAILED:
        return _("The email could not be sent: %(reason)s") % {"reason": email.reason}
    return _("The email to %(to)s is scheduled.") % {"to": email.to_address}


@web_view
def edit(request: HttpRequest, email_id: int) -> HttpResponse:
    user = signed_in_user(request)
    email = get_object_or_404(Email.objects.visible(), pk=email_id, owner=user)
    if email.status not in EDITABLE:
        messages.error(request, _("Only drafts and scheduled emails can be edited."))
        return redirect("web:email", email_id=email.pk)
    if request.method != "POST":
        form = SingleEmailForm(initial=_initial_from(email, user))
    else:
        form = SingleEmailForm(request.POST)
        intent = request.POST.get("intent", "")
        if intent in INTENTS and form.is_valid() and _save_edit(user, email, form, intent):
            messages.success(request, _sent_message(email))
            return redirect("web:folder", name=email.status)
    return render(request, "web/edit.html", {"form": form, "email": email})


def _initial_from(email: Email, user: User) -> dict[str, object]:
    initial: dict[str, object] = {
        **_initial_schedule(user),
        "to": email.to_address,
        "subject": email.subject,
        "body_text": email.body_text,
        "body_html": email.body_html,
    }
    if email.send_at and email.status == Status.SCHEDULED:
        local = timezone.localtime(email.send_at)
        initial.update(date=local.date(), time=local.time().replace(microsecond=0))
        initial["time_zone"] = str(local.tzinfo)
    return initial


def _save_edit(user: User, email: Email, form: SingleEmailForm, intent: str) -> bool:
    fields = _single_email_fields(form, intent)
    if fields is None:
        return False
    try:
        edit_email(user, email, **fields)
    except ComposeError as error:
        show_errors(form, error)
        return False
    return True


@dataclass
class CopyPreview:
    """One recipient of a bulk email as the preview shows it."""

    index: int
    address: str
    person: Person
    content: Content
    edited: bool
    subject: str = ""
    body: str = ""
    problem: str = ""


@web_view
def compose_bulk_view(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    mode = request.POST.get("mode") or request.GET.get("mode") or Batch.Mode.SELECT_AND_SEND
    if mode not in Batch.Mode.values:
        raise Http404
    limit = MAX_GROUP if mode == Batch.Mode.GROUP else MAX_SELECT_AND_SEND
    context: dict[str, object] = {"mode": mode, "limit": limit, "mode_label": _mode_label(mode)}
    if request.method != "POST":
        initial = {**_initial_schedule(user), "to": "\n".join(_picked_addresses(request, user))}
        context["form"] = BulkEmailForm(initial=initial)
        return render(request, "web/compose_bulk.html", context)
    form = BulkEmailForm(request.POST)
    context["form"] = form
    intent = request.POST.get("intent", "preview")
    if not form.is_valid():
        return render(request, "web/compose_bulk.html", context)
    shared = Content(
        form.cleaned_data["subject"], form.cleaned_data["body_text"], form.cleaned_data["body_html"]
    )
    copies = _previews(request, user, form, shared, mode)
    context["copies"] = copies
    if intent in {"send", "schedule"} and not form.errors:
        batch = _send_bulk(user, form, mode, shared, copies, intent)
        if batch is not None:
            messages.success(request, _bulk_message(batch))
            return redirect("web:folder", name=Status.SCHEDULED)
    return render(request, "web/compose_bulk.html", context)


def _mode_label(mode: str) -> str:
    return _("Group email") if mode == Batch.Mode.GROUP else _("Select and Send")


def _picked_addresses(request: HttpRequest, user: User) -> list[str]:
    """Addresses of the people ticked on the People page (the user's own people only)."""
    ids = [int(raw) for raw in request.GET.getlist("person") if raw.isdigit()][:MAX_GROUP]
    people = Person.objects.filter(owner=user, pk__in=ids).order_by("email")
    return [person.email for person in people]


def _people_for(user: User, addresses: list[str]) -> dict[str, Person]:
    """The user's existing people for these addresses; unsaved ones for the others."""
    found = {
        p.email.lower(): p
        for p in Person.objects.annotate(address=Lower("email")).filter(
            owner=user, address__in=addresses
        )
    }
    return {a: found.get(a) or Person(owner=user, email=a) for a in addresses}


def _previews(
    request: HttpRequest, user: User, form: BulkEmailForm, shared: Content, mode: str
) -> list[CopyPreview]:
    addresses: list[str] = []
    for raw in form.addresses():
        try:
            addresses.append(normalise_address(raw))
        except ValidationError as error:
            form.add_error("to", error.messages[0])
    if not addresses:
        form.add_error("to", _("Choose at least one recipient."))
        return []
    people = _people_for(user, addresses)
    blocked = blocking_reasons([p for p in people.values() if p.pk])
    copies = []
    for index, address in enumerate(addresses):
        content, edited = _copy_content(request, index, address, shared, mode)
        copy = CopyPreview(index, address, people[address], content, edited)
        _fill_preview(copy, user, blocked)
        copies.append(copy)
    return copies


def _copy_content(
    request: HttpRequest, index: int, address: str, shared: Content, mode: str
) -> tuple[Content, bool]:
    """A Select and Send copy as the rep edited it (or the shared content, untouched)."""
    # The edits belong to the address they were made for: the list may have changed since.
    if mode != Batch.Mode.SELECT_AND_SEND or request.POST.get(f"copy-{index}-to") != address:
        return shared, False
    values = [request.POST.get(f"copy-{index}-{name}", "") for name in COPY_FIELDS]
    content = Content(*values)
    edited = (content.subject, content.body_text, content.body_html) != (
        shared.subject,
        shared.body_text,
        shared.body_html,
    )
    return (content, True) if edited else (shared, False)


def _fill_preview(copy: CopyPreview, user: User, blocked: dict[int, str]) -> None:
    if copy.person.pk in blocked:
        copy.problem = blocked[copy.person.pk]
    try:
        copy.subject = render_merge(copy.content.subject, copy.person, user)
        copy.body = render_merge(copy.content.body_text, copy.person, user)
    except MissingMergeField as error:
        copy.problem = copy.problem or _("Will go to Failed: %(why)s.") % {"why": error}


def _send_bulk(
    user: User,
    form: BulkEmailForm,
    mode: str,
    shared: Content,
    copies: list[CopyPreview],
    intent: str,
) -> Batch | None:
    send_at = _when(form, intent)
    if form.errors:
        return None
    recipients = [Recipient(copy.address, copy.content if copy.edited else None) for copy in copies]
    try:
        batch, _emails = compose_bulk(
            user, mode=mode, recipients=recipients, content=shared, send_at=send_at
        )
    except ComposeError as error:
        show_errors(form, error)
        return None
    return batch


def _bulk_message(batch: Batch) -> str:
    return ngettext("%(n)d email created.", "%(n)d emails created.", batch.size) % {"n": batch.size}
