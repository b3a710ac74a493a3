"""Emails, folders and batches. Thin handlers: the rules live in commandcenter.outbox."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja import Status as Reply
from ninja.errors import HttpError

from commandcenter.accounts.models import User
from commandcenter.api.auth import viewer
from commandcenter.api.errors import BadInput
from commandcenter.api.pagination import (
    MAX_ID,
    Cursor,
    Limit,
    Search,
    check_cursor,
    page_response,
)
from commandcenter.api.schemas import (
    BatchOut,
    BulkIn,
    BulkOut,
    EmailDetailOut,
    EmailIn,
    EmailOut,
    EmailPatch,
    FoldersOut,
    Text,
    answers,
    batch_json,
    email_detail_json,
    email_json,
    emails_json,
)
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox import actions
from commandcenter.outbox.compose import (
    Content,
    Recipient,
    compose_bulk,
    compose_single,
    edit_email,
)
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.queries import PAGE_SIZE, folder_counts, folder_page
from commandcenter.outbox.states import FOLDERS, Status

router = Router(tags=["emails"])


def not_found(kind: str, pk: int) -> HttpError:
    return HttpError(404, f"No {kind} with id {pk}.")


def email_or_404(request: HttpRequest, email_id: int, *, write: bool = False) -> Email:
    """One of the viewer's emails; 404 for anyone else's, so ids reveal nothing."""
    owners = (viewer(request).writer().pk,) if write else viewer(request).owner_ids
    email = None
    if 1 <= email_id <= MAX_ID:
        email = (
            Email.objects.visible()
            .select_related("person")
            .filter(pk=email_id, owner_id__in=owners)
            .first()
        )
    if email is None:
        raise not_found("email", email_id)
    return email


@router.post(
    "/emails", response=answers({201: EmailOut}), summary="Send, schedule or draft one email"
)
def create_email(request: HttpRequest, payload: EmailIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    email = compose_single(
        user,
        to=payload.to,
        subject=payload.subject,
        body_text=payload.body_text,
        body_html=payload.body_html,
        send_at=payload.send_at,
        draft=payload.draft,
        template=template_or_422(user, payload.template),
    )
    return Reply(201, email_json(email))


def template_or_422(user: User, template_id: int | None) -> Template | None:
    """A saved template the user may use (their own, or shared by a teammate)."""
    if template_id is None:
        return None
    found = Template.objects.usable_by(user).filter(pk=template_id).first()
    if found is None:
        raise BadInput({"template": f"No template with id {template_id}."})
    return found


@router.post("/emails/bulk", response=answers({201: BulkOut}), summary="Select and Send, or Group")
def create_bulk(request: HttpRequest, payload: BulkIn) -> Reply[dict[str, Any]]:
    user = viewer(request).writer()
    if payload.draft:
        raise BadInput({"draft": "Bulk emails cannot be drafts; only single emails can."})
    shared = Content(payload.subject, payload.body_text, payload.body_html)
    recipients = [
        Recipient(
            to=item.to,
            content=None
            if item.subject is None and item.body_text is None and item.body_html is None
            else Content(
                shared.subject if item.subject is None else item.subject,
                shared.body_text if item.body_text is None else item.body_text,
                shared.body_html if item.body_html is None else item.body_html,
            ),
        )
        for item in payload.to
    ]
    batch, emails = compose_bulk(
        user,
        mode=payload.mode,
        recipients=recipients,
        content=shared,
        send_at=payload.send_at,
        template=template_or_422(user, payload.template),
    )
    return Reply(201, {"batch": batch.pk, "emails": emails_json(emails)})


@router.get(
    "/emails", response=answers({200: list[EmailOut]}), summary="One page of a folder, newest first"
)
def list_emails(
    request: HttpRequest,
    folder: Text,
    limit: Limit = PAGE_SIZE,
    cursor: Cursor = None,
    q: Search = "",
) -> HttpResponse:
    if folder not in FOLDERS:
        raise BadInput({"folder": f"Unknown folder {folder[:50]!r}; one of {', '.join(FOLDERS)}."})
    if cursor:
        check_cursor(cursor)
    page = folder_page(
        viewer(request).owner_ids, folder, cursor=cursor, limit=limit, search=q.strip()
    )
    return page_response(request, emails_json(page.emails), page.next_cursor)


@router.get(
    "/emails/{email_id}",
    response=answers({200: EmailDetailOut}, 404),
    summary="One email with its events",
)
def get_email(request: HttpRequest, email_id: int) -> dict[str, Any]:
    return email_detail_json(email_or_404(request, email_id))


@router.patch(
    "/emails/{email_id}",
    response=answers({200: EmailOut}, 404, 409),
    summary="Edit a draft or scheduled email",
)
def patch_email(request: HttpRequest, email_id: int, payload: EmailPatch) -> dict[str, Any]:
    changes = payload.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None and name != "body_html"]
    if nulls:
        raise BadInput(dict.fromkeys(nulls, "Must not be null; leave it out to keep it."))
    if changes.get("body_html", "") is None:
        changes["body_html"] = ""
    email = email_or_404(request, email_id, write=True)
    if "edit" not in actions.actions_for(email):
        label = Status(email.status).label
        raise HttpError(409, f"Edit is not possible for a {label} email.")
    # draft: false on a failed email means "send it again" (Retry Send's rules apply).
    if email.status == Status.FAILED and changes.get("draft"):
        raise BadInput({"draft": "A failed email cannot become a draft."})
    email = edit_email(viewer(request).writer(), email, **changes)
    return email_json(email)


@router.post(
    "/emails/{email_id}/archive",
    response=answers({200: EmailOut}, 404, 409),
    summary="Archive (Delivered)",
)
def archive_email(request: HttpRequest, email_id: int) -> dict[str, Any]:
    return email_json(actions.archive(email_or_404(request, email_id, write=True)))


@router.post(
    "/emails/{email_id}/unarchive",
    response=answers({200: EmailOut}, 404, 409),
    summary="Unarchive (Archived)",
)
def unarchive_email(request: HttpRequest, email_id: int) -> dict[str, Any]:
    return email_json(actions.unarchive(email_or_404(request, email_id, write=True)))


@router.post(
    "/emails/{email_id}/retry",
    response=answers({200: EmailOut}, 404, 409),
    summary="Retry Send (Undelivered)",
)
def retry_email(request: HttpRequest, email_id: int) -> dict[str, Any]:
    return email_json(actions.retry(email_or_404(request, email_id, write=True)))


@router.delete(
    "/emails/{email_id}", response=answers({204: None}, 404, 409), summary="Delete (not Delivered)"
)
def delete_email(request: HttpRequest, email_id: int) -> Reply[None]:
    actions.delete(email_or_404(request, email_id, write=True))
    return Reply(204, None)


@router.get(
    "/folders", response=answers({200: FoldersOut}), summary="How many emails each folder holds"
)
def folders(request: HttpRequest) -> dict[str, int]:
    return folder_counts(viewer(request).owner_ids)


@router.get(
    "/batches/{batch_id}",
    response=answers({200: BatchOut}, 404),
    summary="A bulk send and its emails",
)
def get_batch(request: HttpRequest, batch_id: int) -> dict[str, Any]:
    owners = viewer(request).owner_ids
    batch = None
    if 1 <= batch_id <= MAX_ID:
        batch = Batch.objects.filter(pk=batch_id, owner_id__in=owners).first()
    if batch is None:
        raise not_found("batch", batch_id)
    emails = list(
        Email.objects.visible().filter(batch=batch).select_related("person").order_by("id")
    )
    counts = dict.fromkeys(FOLDERS, 0)
    for email in emails:
        counts[email.status] += 1
    return batch_json(batch, emails, counts)
