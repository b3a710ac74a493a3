"""Compose: a single email (send now, schedule, draft), edit, Select and Send, and Group.

The views turn form fields into calls of outbox.compose and show its ComposeError messages
next to the fields; nothing here decides what is allowed. When merge fields would come out
empty, the form comes back with everything the rep typed and a way to fix each copy: fill the
person's field here, edit that copy (Select and Send), or remove the recipient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from commandcenter.accounts.models import User
from commandcenter.mailtemplates.models import Template
from commandcenter.mailtemplates.services import save_template, usable
from commandcenter.outbox.compose import (
    EDITABLE,
    MAX_GROUP,
    MAX_SELECT_AND_SEND,
    ComposeError,
    Content,
    Recipient,
    compose_bulk,
    compose_single,
    copy_content,
    edit_email,
    first_reply_subject,
    text_from_html,
    written_content,
)
from commandcenter.outbox.merge import (
    FILLABLE_PERSON_FIELDS,
    STANDARD_FIELDS,
    defaults_for,
    placeholder,
    render_parts,
)
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.reasons import explain_text
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reasons, normalise_address
from commandcenter.tasks import email_tasks
from commandcenter.web.decorators import web_view
from commandcenter.web.forms import (
    BulkEmailForm,
    ContentFields,
    ScheduleFields,
    SingleEmailForm,
    merge_field_menu,
    split_addresses,
)
from commandcenter.web.scope import signed_in_user
from commandcenter.web.when import scheduled_for, zone_of

INTENTS = ("send", "schedule", "draft", "save")
COPY_FIELDS = ("subject", "body_text", "body_html")
MAX_SUGGESTIONS = 8
MAX_PLAIN_TEXT_INPUT = 1_000_000


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


def _starting_content(request: HttpRequest, user: User) -> dict[str, object]:
    """A new email's content: a saved template's (?template=ID), else the rep's signature."""
    raw = request.GET.get("template", "")
    if raw.isdigit():
        template = Template.objects.usable_by(user).filter(pk=int(raw)).first()
        if template is not None:
            return {
                "subject": template.subject,
                "body_html": template.body_html,
                "body_text": template.body_text,
                "text_follows": _text_follows(template.body_text, template.body_html),
                "template": template.pk,
            }
    if user.signature.strip():
        # The signature itself, so that the editor shows what the recipient will read.
        lines = "<br>".join(escape(line) for line in user.signature.strip().splitlines())
        return {"body_html": f"<div><br><br>{lines}</div>"}
    return {}


def _text_follows(body_text: str, body_html: str) -> bool:
    """Whether the plain text is still the one made from the HTML (so it may follow it)."""
    return not body_text.strip() or (
        bool(body_html.strip()) and body_text == text_from_html(body_html)
    )


def _editor_context(user: User, form: forms.Form) -> dict[str, object]:
    return {
        "form": form,
        "merge_fields": merge_field_menu(user),
        "templates": usable(user),
    }


def _fills_for(request: HttpRequest, address: str, prefix: str = "fill") -> dict[str, str]:
    """Merge-field values typed into the "fill it in" inputs (PREFIX-FIELD) for one address."""
    values = {}
    for key in request.POST:
        value = request.POST.get(key, "").strip()
        if key.startswith(prefix + "-") and value:
            values[key.removeprefix(prefix + "-")] = value
    return values if address else {}


def fillable(fields: list[str]) -> list[str]:
    """Of the fields that would be empty, those a rep can fill in for a person here."""
    return [
        name for name in fields if name not in STANDARD_FIELDS or name in FILLABLE_PERSON_FIELDS
    ]


@web_view
def compose(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    intent = request.POST.get("intent", "send")
    context: dict[str, object] = {}
    # ?task=ID: an Email task being done (tasks/email_tasks.py).
    task = email_tasks.open_email_task(user, request.GET.get("task", ""))
    if request.method != "POST":
        initial = {
            **_initial_schedule(user),
            "to": request.GET.get("to", "")[:254],
            "text_follows": True,
            **_starting_content(request, user),
        }
        if task is not None:
            initial.update(email_tasks.compose_initial(task))
        form = SingleEmailForm(initial=initial)
    else:
        form = SingleEmailForm(request.POST)
        if intent == "save_template" and _valid_content(form):
            _save_as_template(request, user, form)
        elif intent in INTENTS and form.is_valid():
            email, missing = _compose_single(request, user, form, intent)
            if email is not None and task is not None and intent != "draft":
                email_tasks.email_sent_for(user, task, email)
            if email is not None:
                return _after_saving(request, email)
            context["missing"] = missing
    return render(request, "web/compose.html", {**_editor_context(user, form), **context})


def _valid_content(form: forms.Form) -> bool:
    """The content fields are fine (a template needs no recipient nor send time)."""
    form.is_valid()
    form.errors.pop("to", None)
    return all(name not in form.errors for name in ("subject", "body_text", "body_html"))


def _content_of(form: ContentFields) -> Content:
    data = form.cleaned_data
    return Content(data.get("subject", ""), data.get("body_text", ""), data.get("body_html", ""))


def _chosen_template(user: User, form: ContentFields) -> Template | None:
    template_id = form.cleaned_data.get("template")
    if not template_id:
        return None
    return Template.objects.usable_by(user).filter(pk=template_id).first()


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
        "send_zone": data["time_zone"] if intent == "schedule" else "",
    }


def _compose_single(
    request: HttpRequest, user: User, form: SingleEmailForm, intent: str
) -> tuple[Email | None, list[str]]:
    """The email made, or None and the merge fields the rep can fill in (the form says why)."""
    fields = _single_email_fields(form, intent)
    if fields is None:
        return None, []
    fields["template"] = _chosen_template(user, form)
    fields["fill"] = {fields["to"]: _fills_for(request, fields["to"])}
    try:
        return compose_single(user, **fields), []
    except ComposeError as error:
        show_errors(form, error)
        return None, fillable([name for names in error.missing.values() for name in names])


def _save_as_template(request: HttpRequest, user: User, form: ContentFields) -> None:
    name = request.POST.get("template_name", "")
    shared = request.POST.get("template_shared") == "on"
    try:
        template = save_template(user, name=name, content=_content_of(form), shared=shared)
    except ComposeError as error:
        for key, message in error.errors.items():
            form.add_error(key if key in form.fields else None, message)
        return
    messages.success(request, _("Saved as the template “%(name)s”.") % {"name": template.name})
    if isinstance(form.data, QueryDict):
        # The form goes on as started from the template just saved.
        data = form.data.copy()
        data["template"] = str(template.pk)
        form.data = data


def _after_saving(request: HttpRequest, email: Email) -> HttpResponse:
    """Where the rep goes once the email is saved, told what happens next."""
    name = email.person.first_name or email.to_address
    if email.status == Status.DRAFT:
        messages.success(request, _("Draft saved."))
        return redirect("web:folder", name=Status.DRAFT)
    if email.status == Status.FAILED:
        messages.error(
            request,
            _("The email to %(to)s cannot be sent: %(reason)s")
            % {"to": email.to_address, "reason": explain_text(email.reason)},
        )
        return redirect("web:email", email_id=email.pk)
    if email.send_at and email.send_at > timezone.now() + dt.timedelta(minutes=1):
        messages.success(
            request,
            _("Scheduled for %(when)s.") % {"when": scheduled_for(email.send_at, email.send_zone)},
        )
        return redirect("web:folder", name=Status.SCHEDULED)
    # Sending now: the Delivered folder shows its row on its way and as it arrives.
    messages.success(request, _("Sending to %(name)s…") % {"name": name})
    return redirect(reverse("web:folder", args=[Status.DELIVERED]) + f"?sending={email.pk}")


@web_view
def edit(request: HttpRequest, email_id: int) -> HttpResponse:
    user = signed_in_user(request)
    email = get_object_or_404(Email.objects.visible().select_related("person"), pk=email_id,
                              owner=user)  # fmt: skip
    if email.status not in EDITABLE:
        messages.error(request, _("Only drafts, scheduled and failed emails can be edited."))
        return redirect("web:email", email_id=email.pk)
    context: dict[str, object] = {"email": email}
    if request.method != "POST":
        form = SingleEmailForm(initial=_initial_from(email, user))
    else:
        form = SingleEmailForm(request.POST)
        intent = request.POST.get("intent", "")
        if intent in INTENTS and form.is_valid():
            saved, missing = _save_edit(request, user, email, form, intent)
            if saved:
                email.refresh_from_db()
                if email.status == Status.FAILED:
                    messages.success(request, _("Saved. Use Retry Send when it is ready."))
                    return redirect("web:email", email_id=email.pk)
                return _after_saving(request, email)
            context["missing"] = missing
    return render(request, "web/edit.html", {**_editor_context(user, form), **context})


def _initial_from(email: Email, user: User) -> dict[str, object]:
    written = written_content(email)
    initial: dict[str, object] = {
        **_initial_schedule(user),
        "to": email.to_address,
        "subject": written.subject,
        "body_text": written.body_text,
        "body_html": written.body_html,
        "text_follows": _text_follows(written.body_text, written.body_html),
        "template": email.template_id,
    }
    if email.send_at and email.status == Status.SCHEDULED:
        zone = email.send_zone or user.time_zone or "UTC"
        local = timezone.localtime(email.send_at, timezone=zone_of(zone))
        initial.update(date=local.date(), time=local.time().replace(microsecond=0))
        initial["time_zone"] = zone
    return initial


def _save_edit(
    request: HttpRequest, user: User, email: Email, form: SingleEmailForm, intent: str
) -> tuple[bool, list[str]]:
    fields = _single_email_fields(form, intent)
    if fields is None:
        return False, []
    if email.status == Status.FAILED and intent in {"save", "draft"}:
        # Saving a failed email keeps it in Failed; the other buttons send it again.
        fields.update(send_at=None, draft=None)
    elif email.status == Status.FAILED:
        fields["draft"] = False
    fields["fill"] = {fields["to"]: _fills_for(request, fields["to"])}
    try:
        edit_email(user, email, **fields)
    except ComposeError as error:
        show_errors(form, error)
        return False, fillable([name for names in error.missing.values() for name in names])
    return True, []


# -- Select and Send, Group -------------------------------------------------------------------


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
    blocked: bool = False
    missing: list[str] = field(default_factory=list)
    fills: dict[str, str] = field(default_factory=dict)
    # The earlier email this copy answers (a threaded follow-up), if any.
    thread: Email | None = None

    @property
    def key(self) -> str:
        return _key(self.address)

    @property
    def fillable(self) -> list[tuple[str, str]]:
        """(field, value typed so far) for the inputs that fill this person's empty fields."""
        return [(name, self.fills.get(name, "")) for name in fillable(self.missing)]


@web_view
def compose_bulk_view(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    mode = request.POST.get("mode") or request.GET.get("mode") or Batch.Mode.SELECT_AND_SEND
    if mode not in Batch.Mode.values:
        raise Http404
    limit = MAX_GROUP if mode == Batch.Mode.GROUP else MAX_SELECT_AND_SEND
    context: dict[str, object] = {"mode": mode, "limit": limit, "mode_label": _mode_label(mode)}
    threads = _threads(request, user) if mode == Batch.Mode.SELECT_AND_SEND else {}
    context["threads"] = list(threads.values())
    if request.method != "POST":
        picked = _picked_addresses(request, user)
        initial = {
            **_initial_schedule(user),
            "to": "\n".join(picked + [a for a in threads if a not in picked]),
            "text_follows": True,
            **_starting_content(request, user),
        }
        if threads and not initial.get("subject"):
            # Each threaded copy answers its own email; this is what the others get.
            initial["subject"] = first_reply_subject(threads.values())
        form = BulkEmailForm(initial=initial)
        return render(request, "web/compose_bulk.html", {**_editor_context(user, form), **context})
    form = BulkEmailForm(_without_removed(request))
    context.update(_editor_context(user, form))
    intent = request.POST.get("intent", "preview")
    if intent == "save_template":
        if _valid_content(form):
            _save_as_template(request, user, form)
        return render(request, "web/compose_bulk.html", context)
    if not form.is_valid():
        return render(request, "web/compose_bulk.html", context)
    shared = _content_of(form)
    copies = _previews(request, user, form, shared, mode, threads)
    context["copies"] = copies
    context["problems"] = sum(1 for copy in copies if copy.problem and not copy.blocked)
    if intent in {"send", "schedule"} and not form.errors:
        batch = _send_bulk(user, form, mode, shared, copies, intent)
        if batch is not None:
            messages.success(request, _bulk_message(batch))
            return redirect("web:batch", batch_id=batch.pk)
    return render(request, "web/compose_bulk.html", context)


def _without_removed(request: HttpRequest) -> Mapping[str, Any]:
    """The posted form, less the recipients the rep removed from the preview."""
    removed = {value.strip().lower() for value in request.POST.getlist("remove")}
    if not removed:
        return request.POST
    data = request.POST.copy()
    kept = [a for a in split_addresses(data.get("to", "")) if a.strip().lower() not in removed]
    data["to"] = "\n".join(kept)
    return data


def _mode_label(mode: str) -> str:
    return _("Group email") if mode == Batch.Mode.GROUP else _("Select and Send")


def _picked_addresses(request: HttpRequest, user: User) -> list[str]:
    """Addresses of the people ticked on the People page (the user's own people only)."""
    ids = [int(raw) for raw in request.GET.getlist("person") if raw.isdigit()][:MAX_GROUP]
    people = Person.objects.filter(owner=user, pk__in=ids).order_by("email")
    return [person.email for person in people]


def _threads(request: HttpRequest, user: User) -> dict[str, Email]:
    """The earlier emails a follow-up answers (?thread=ID, the search's follow-up), by
    recipient address: the user's own sent emails only, one per person."""
    data = request.POST if request.method == "POST" else request.GET
    ids = [int(raw) for raw in data.getlist("thread") if raw.isdigit() and len(raw) < 18]
    found: dict[str, Email] = {}
    sent = Email.objects.owned_by(user.pk).exclude(message_id="")
    for email in sent.filter(pk__in=ids[:MAX_SELECT_AND_SEND]).order_by("to_address", "-pk"):
        found.setdefault(email.to_address.lower(), email)
    return found


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
    request: HttpRequest,
    user: User,
    form: BulkEmailForm,
    shared: Content,
    mode: str,
    threads: Mapping[str, Email],
) -> list[CopyPreview]:
    addresses: list[str] = []
    for raw in form.addresses():
        try:
            address = normalise_address(raw)
        except ValidationError as error:
            form.add_error("to", error.messages[0])
            continue
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        form.add_error("to", _("Choose at least one recipient."))
        return []
    people = _people_for(user, addresses)
    blocked = blocking_reasons([p for p in people.values() if p.pk])
    defaults = defaults_for(user)
    copies = []
    for index, address in enumerate(addresses):
        thread = threads.get(address)
        base = copy_content(Recipient(address, thread=thread), shared)
        content, edited = _copy_content(request, index, address, base, mode)
        copy = CopyPreview(index, address, people[address], content, edited, thread=thread)
        copy.fills = _fills_for(request, address, prefix=f"fill-{_key(address)}")
        _fill_preview(copy, user, blocked, defaults)
        copies.append(copy)
    return copies


def _key(address: str) -> str:
    """An address as a form field name part (the fill inputs are per recipient)."""
    return address.replace("@", "_at_")


def _copy_content(
    request: HttpRequest, index: int, address: str, shared: Content, mode: str
) -> tuple[Content, bool]:
    """A Select and Send copy as the rep edited it (or `shared`, untouched: the shared
    content, answering the copy's thread if it has one)."""
    # The edits belong to the address they were made for: the list may have changed since.
    key = _key(address)
    if mode != Batch.Mode.SELECT_AND_SEND or request.POST.get(f"copy-{key}-to") != address:
        return shared, False
    values = [request.POST.get(f"copy-{key}-{name}", "") for name in COPY_FIELDS]
    content = Content(*values)
    if content.body_text != shared.body_text and content.body_html == shared.body_html:
        # The copy's text was rewritten: its HTML would still say the old thing, so this
        # copy goes out as plain text.
        content.body_html = ""
    edited = (content.subject, content.body_text, content.body_html) != (
        shared.subject,
        shared.body_text,
        shared.body_html,
    )
    return (content, True) if edited else (shared, False)


def _fill_preview(
    copy: CopyPreview, user: User, blocked: Mapping[int, str], defaults: Mapping[str, str]
) -> None:
    person = copy.person
    if copy.fills:
        # The preview shows what the fills will give, without saving them yet.
        person = Person(
            owner=user,
            email=person.email,
            first_name=copy.fills.get("first_name", person.first_name),
            last_name=copy.fills.get("last_name", person.last_name),
            company=copy.fills.get("company", person.company),
            title=copy.fills.get("title", person.title),
            custom_fields={**(person.custom_fields or {}), **copy.fills},
        )
    content = copy.content.completed()
    rendered, missing = render_parts(
        person, user, content.subject, content.body_text, content.body_html, defaults=defaults
    )
    copy.subject, copy.body = rendered.subject, rendered.body_text
    if copy.person.pk in blocked:
        copy.blocked = True
        copy.problem = _("Will go to Failed: %(why)s") % {
            "why": explain_text(blocked[copy.person.pk])
        }
    elif missing:
        copy.missing = missing
        names = ", ".join(placeholder(name) for name in missing)
        copy.problem = ngettext(
            "%(fields)s would be empty for this person.",
            "%(fields)s would be empty for this person.",
            len(missing),
        ) % {"fields": names}


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
    recipients = [
        Recipient(copy.address, copy.content if copy.edited else None, thread=copy.thread)
        for copy in copies
    ]
    try:
        batch, _emails = compose_bulk(
            user,
            mode=mode,
            recipients=recipients,
            content=shared,
            send_at=send_at,
            send_zone=form.cleaned_data["time_zone"] if intent == "schedule" else "",
            template=_chosen_template(user, form),
            fill={copy.address: copy.fills for copy in copies if copy.fills},
        )
    except ComposeError as error:
        # The preview marks each copy that cannot be filled; the summary says how many.
        form.add_error(None, error.errors.get("merge") or next(iter(error.errors.values())))
        for key, message in error.errors.items():
            if key in form.fields:
                form.add_error(key, message)
        return None
    return batch


def _bulk_message(batch: Batch) -> str:
    return ngettext("%(n)d email created.", "%(n)d emails created.", batch.size) % {"n": batch.size}


# -- helpers of the editor --------------------------------------------------------------------


@web_view
@require_POST
def plain_text(request: HttpRequest) -> HttpResponse:
    """The plain-text part made from the editor's HTML (the same rule compose applies)."""
    html = request.POST.get("body_html", "")[:MAX_PLAIN_TEXT_INPUT]
    return HttpResponse(text_from_html(html), content_type="text/plain; charset=utf-8")


@web_view
@require_GET
def suggest_people(request: HttpRequest) -> HttpResponse:
    """<option>s for the "To" field's list: the user's own people matching what they typed."""
    user = signed_in_user(request)
    typed = (request.GET.get("q") or request.GET.get("to") or "").strip()[:100]
    people: list[Person] = []
    if len(typed) >= 1:
        people = list(
            Person.objects.filter(owner=user)
            .filter(
                Q(email__icontains=typed)
                | Q(first_name__istartswith=typed)
                | Q(last_name__istartswith=typed)
                | Q(company__istartswith=typed)
            )
            .order_by("last_name", "first_name", "email")[:MAX_SUGGESTIONS]
        )
    return render(request, "web/_suggestions.html", {"people": people})
