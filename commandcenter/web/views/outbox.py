"""The Command Center page, an email's page, and the quick actions."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from commandcenter.accounts.models import User
from commandcenter.delivery.models import SentMessage
from commandcenter.outbox.actions import ACTIONS, ActionRefused, apply, retry_refusal
from commandcenter.outbox.labels import status_label
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.queries import BadCursor, folder_counts, folder_page
from commandcenter.outbox.reasons import explain
from commandcenter.outbox.states import FOLDERS, UNDELIVERED, IllegalTransition, Status
from commandcenter.people.models import Suppression
from commandcenter.people.services import blocking_reason, suppressions_for
from commandcenter.web.decorators import web_view
from commandcenter.web.folders import (
    ACTION_LABELS,
    DATE_LABELS,
    FOLDER_LABELS,
    STATUS_LABELS,
    main_tab_of,
    tab_bar,
)
from commandcenter.web.rows import build_rows, row_actions
from commandcenter.web.scope import scope_for, signed_in_user
from commandcenter.web.timeline import timeline
from commandcenter.web.when import formatted, scheduled_for, with_zone, zone_name

MAX_SELECTION = 1000
MAX_REFUSALS_SHOWN = 5
BULK_ACTIONS = ("archive", "unarchive", "retry", "delete")
# Folders whose rows change by themselves within seconds: the list refreshes itself.
LIVE_FOLDERS = frozenset({Status.IN_PROGRESS})
SENT_STATUSES = frozenset({Status.DELIVERED, Status.ARCHIVED, Status.BOUNCED, Status.SPAM})


@web_view
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:folder", name=Status.DELIVERED)


@web_view
@require_GET
def folder(request: HttpRequest, name: str) -> HttpResponse:
    if name not in FOLDERS:
        raise Http404
    scope = scope_for(request)
    search = request.GET.get("q", "").strip()[:200]
    try:
        page = folder_page(
            scope.owner_ids,
            name,
            cursor=request.GET.get("cursor") or None,
            search=search,
            brief=True,
        )
    except BadCursor:
        return HttpResponseBadRequest(_("This page link is broken; open the folder again."))
    user = signed_in_user(request)
    context = {
        "folder": name,
        "folder_label": FOLDER_LABELS[name],
        "date_label": str(DATE_LABELS[name]),
        "main_tab": main_tab_of(name),
        "rows": build_rows(page.emails, name, own_ids={user.pk} if scope.is_own else set()),
        "next_cursor": page.next_cursor,
        "is_first_page": not request.GET.get("cursor"),
        "search": search,
        "scope": scope,
        "bulk_actions": _bulk_actions(name) if scope.is_own else [],
        "live": name in LIVE_FOLDERS,
        "zone": zone_name(),
        "sending": _sending(request, user) if scope.is_own else None,
        **_row_context(name),
    }
    if request.headers.get("HX-Request") and request.GET.get("part") == "rows":
        # The live list's poll: the rows alone (the tab bar polls for itself).
        return render(request, "web/_rows.html", context)
    context["tabs"] = tab_bar(name, folder_counts(scope.owner_ids))
    return render(request, "web/folder.html", context)


def _sending(request: HttpRequest, user: User) -> Email | None:
    """The email just sent with "Send now", while it is on its way (its row follows it)."""
    raw = request.GET.get("sending", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    on_its_way = [Status.SCHEDULED, Status.IN_PROGRESS]
    return (
        Email.objects.filter(pk=int(raw), owner=user, status__in=on_its_way)
        .select_related("person")
        .first()
    )


def _row_context(name: str) -> dict[str, object]:
    """What every row prints alike, worked out once per page instead of once per row."""
    return {
        "folder_url": reverse("web:folder", args=[name]),
        # Row links are these prefixes plus the id: one reverse() a page, not three a row.
        "email_url": reverse("web:email", args=[0]).removesuffix("0/"),
        "person_url": reverse("web:person", args=[0]).removesuffix("0/"),
        "batch_url": reverse("web:batch_rows", args=[0, name]).removesuffix(f"0/{name}/"),
        "group_url": reverse("web:batch", args=[0]).removesuffix("0/"),
        # Every email of a folder has the folder's status (as text: a lazy string would be
        # translated again in every row).
        "status_label": str(STATUS_LABELS[name]),
        "text": {
            "views": _("Views"),
            "clicks": _("Clicks"),
            "replies": _("Replies"),
            "campaign": _("Campaign"),
            "select": _("Select"),
            "group": _("Group email"),
            "no_subject": _("(no subject)"),
            "edit": _("Edit"),
            "campaign_locked": _(
                "Campaign emails cannot be deleted: remove the person from the campaign."
            ),
        },
    }


def _bulk_actions(folder_name: str) -> list[tuple[str, object]]:
    offered = ACTIONS.get(folder_name, frozenset())
    return [(action, ACTION_LABELS[action]) for action in BULK_ACTIONS if action in offered]


@web_view
@require_GET
def tabs(request: HttpRequest) -> HttpResponse:
    """The tab bar alone, with fresh counts: htmx polls it so counts change without a reload."""
    name = request.GET.get("folder", "")
    if name not in FOLDERS:
        name = Status.DELIVERED
    scope = scope_for(request)
    context = {"folder": name, "tabs": tab_bar(name, folder_counts(scope.owner_ids))}
    return render(request, "web/_tabs.html", context)


def viewable_email(request: HttpRequest, email_id: int) -> Email:
    """An email the user may look at (theirs, or their team's for an admin); 404 otherwise."""
    viewable = signed_in_user(request).viewable_users()
    return get_object_or_404(
        Email.objects.visible().select_related("person", "batch"),
        pk=email_id,
        owner__in=viewable,
    )


@web_view
@require_GET
def email_detail(request: HttpRequest, email_id: int) -> HttpResponse:
    email = viewable_email(request, email_id)
    user = signed_in_user(request)
    own = email.owner_id == user.pk
    refusal = retry_refusal(email) if "retry" in ACTIONS.get(email.status, ()) else None
    subject, body_text, body_html = email.written()
    context = {
        "email": email,
        "entries": timeline(email, email.events.all()),
        "actions": row_actions(email, editable=own),
        "action_labels": ACTION_LABELS,
        "reason": explain(email.reason).html() if email.reason else "",
        "dates": _dates(email),
        "retry_refusal": _refusal_html(email, refusal) if own and refusal else None,
        "suppression": _liftable_suppression(user, email) if refusal else None,
        "written": {"subject": subject, "body_text": body_text, "body_html": body_html},
        "written_differs": (subject, body_text, body_html)
        != (email.subject, email.body_text, email.body_html),
        "has_original": SentMessage.objects.filter(email_id=email.pk).exists(),
        "zone": zone_name(),
        "back": reverse("web:folder", args=[email.status])
        if email.status in FOLDERS
        else reverse("web:home"),
    }
    return render(request, "web/email.html", context)


def _dates(email: Email) -> list[tuple[str, str]]:
    """The dates that say where the email is now (an old failure of a retried email is
    history: the timeline keeps it)."""
    dates: list[tuple[str, str]] = []
    if email.status in {Status.SCHEDULED, Status.IN_PROGRESS} and email.send_at:
        dates.append((_("Scheduled for"), scheduled_for(email.send_at, email.send_zone)))
    if email.sent_at and email.status in SENT_STATUSES:
        dates.append((_("Sent"), with_zone(email.sent_at)))
    if email.failed_at and email.status in UNDELIVERED:
        dates.append((str(STATUS_LABELS[email.status]), with_zone(email.failed_at)))
    if email.status == Status.DRAFT:
        dates.append((_("Last edited"), with_zone(email.updated_at)))
    return dates


def _refusal_html(email: Email, refusal: str) -> SafeString:
    """Why Retry Send is not offered, with a suppression's or server's words quoted."""
    reason = blocking_reason(email.person) if email.status != Status.SPAM else None
    if not reason:
        return format_html("{}", refusal)
    return format_html("{} {}", _("Retry Send would fail:"), explain(reason).html())


def _liftable_suppression(user: User, email: Email) -> Suppression | None:
    """The suppression an admin could lift for this recipient (with its own confirmation)."""
    if not user.is_admin:
        return None
    return suppressions_for([email.to_address]).get(email.to_address.lower())


@web_view
@require_GET
def email_original(request: HttpRequest, email_id: int) -> HttpResponse:
    """The exact message that went out, headers and MIME, as plain text (or as a .eml file)."""
    email = viewable_email(request, email_id)
    kept = get_object_or_404(SentMessage, email_id=email.pk)
    download = request.GET.get("download") == "1"
    response = HttpResponse(
        kept.raw, content_type="message/rfc822" if download else "text/plain; charset=utf-8"
    )
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="email-{email.pk}.eml"'
    return response


@web_view
@require_GET
def email_row(request: HttpRequest, email_id: int) -> HttpResponse:
    """One email's row, for a row that follows its email live ("Sending to Pat…")."""
    email = viewable_email(request, email_id)
    user = signed_in_user(request)
    context = {
        "email": email,
        "rows": build_rows([email], email.status, own_ids={user.pk}),
        "live_email": email.status in {Status.SCHEDULED, Status.IN_PROGRESS},
        **_row_context(email.status),
        "status_label": str(STATUS_LABELS[email.status]),
    }
    return render(request, "web/_live_row.html", context)


@web_view
@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """A Group (or Select and Send) email: its content, its members and what became of each."""
    scope = scope_for(request)
    batch = get_object_or_404(Batch, pk=batch_id, owner_id__in=scope.owner_ids)
    emails = list(
        Email.objects.visible()
        .filter(batch=batch)
        .select_related("person")
        .order_by("status", "to_address")[:MAX_SELECTION]
    )
    counts = Counter(email.status for email in emails)
    context = {
        "batch": batch,
        "members": [(e, formatted(e.sort_at, "short")) for e in emails],
        "first": emails[0] if emails else None,
        "counts": [(STATUS_LABELS[f], counts[f], f) for f in FOLDERS if counts[f]],
        "zone": zone_name(),
        "mode_label": _("Group email") if batch.mode == Batch.Mode.GROUP else _("Select and Send"),
    }
    return render(request, "web/batch.html", context)


@web_view
@require_GET
def batch_rows(request: HttpRequest, batch_id: int, name: str) -> HttpResponse:
    """A Group email's copies in one folder, for its expanded row."""
    if name not in FOLDERS:
        raise Http404
    scope = scope_for(request)
    batch = get_object_or_404(Batch, pk=batch_id, owner_id__in=scope.owner_ids)
    emails = list(
        Email.objects.filter(batch=batch, status=name)
        .select_related("person")
        .order_by("-sort_at", "-id")[:MAX_SELECTION]
    )
    return render(request, "web/_batch_members.html", {"emails": emails, "batch": batch})


def _selected_ids(request: HttpRequest) -> tuple[str, list[int]] | None:
    """(action, email ids) from the row button pressed, or from the selection; None if bad."""
    one = request.POST.get("one", "")
    if one:
        raw_ids, _sep, action = one.rpartition(":")
        values = [raw_ids]
    else:
        action = request.POST.get("action", "")
        values = request.POST.getlist("ids")
    try:
        ids = sorted({int(part) for value in values for part in value.split(",") if part})
    except ValueError:
        return None
    if action not in BULK_ACTIONS or not ids or len(ids) > MAX_SELECTION:
        return None
    return action, ids


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("web:home")


@web_view
@require_POST
def email_actions(request: HttpRequest) -> HttpResponse:
    """Archive / Unarchive / Retry Send / Delete on one row or a selection; Delete confirms."""
    selected = _selected_ids(request)
    back = _safe_next(request)
    if selected is None:
        messages.error(request, _("Choose one or more emails and an action."))
        return redirect(back)
    action, ids = selected
    user = signed_in_user(request)
    emails = list(
        Email.objects.visible()
        .filter(owner=user, pk__in=ids)
        .select_related("person")
        .order_by("-sort_at")
    )
    if len(emails) != len(ids):
        # Someone else's email, or one that no longer exists: act on none of them.
        raise Http404
    if action == "delete" and request.POST.get("confirmed") != "yes":
        context = {"emails": emails, "ids": ",".join(map(str, ids)), "next": back}
        return render(request, "web/confirm_delete.html", context)
    done, refused = _apply_all(emails, action)
    if done:
        messages.success(request, _done_message(action, done))
    for why in refused[:MAX_REFUSALS_SHOWN]:
        messages.error(request, why)
    if len(refused) > MAX_REFUSALS_SHOWN:
        more = len(refused) - MAX_REFUSALS_SHOWN
        messages.error(request, _("…and %(n)d more could not be changed.") % {"n": more})
    return redirect(back)


def _apply_all(emails: list[Email], action: str) -> tuple[int, list[str | SafeString]]:
    done: int = 0
    refused: list[str | SafeString] = []
    for email in emails:
        if action == "delete" and "delete" not in row_actions(email, editable=True):
            refused.append(_("Campaign emails cannot be deleted: %(to)s") % {"to": email})
            continue
        try:
            apply(email, action)
        except ActionRefused as error:
            refused.append(_refusal_html(email, str(error)) if action == "retry" else str(error))
        except IllegalTransition as error:
            refused.append(_moved_meanwhile(error))
        else:
            done += 1
    return done, refused


def _moved_meanwhile(error: IllegalTransition) -> str:
    """IllegalTransition in words for the rep: someone (the sender) moved it meanwhile."""
    return _("This email is %(current)s now; it cannot become %(target)s.") % {
        "current": status_label(error.current),
        "target": status_label(error.target),
    }


def _done_message(action: str, count: int) -> str:
    templates = {
        "archive": ngettext("Archived %(n)d email.", "Archived %(n)d emails.", count),
        "unarchive": ngettext("Unarchived %(n)d email.", "Unarchived %(n)d emails.", count),
        "retry": ngettext(
            "%(n)d email will be sent again.", "%(n)d emails will be sent again.", count
        ),
        "delete": ngettext("Deleted %(n)d email.", "Deleted %(n)d emails.", count),
    }
    return templates[action] % {"n": count}
