"""The embedded mail catcher's messages, opened from the UI (when mail goes there)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from commandcenter.delivery import catcher
from commandcenter.web.decorators import web_view
from commandcenter.web.scope import signed_in_user

LIST_LIMIT = 200


def require_admin(request: HttpRequest) -> None:
    """The catcher holds every user's outgoing mail: only admins may read it."""
    if not signed_in_user(request).is_admin:
        raise PermissionDenied


@web_view
@require_GET
def catcher_list(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    caught = catcher.list_messages(LIST_LIMIT)
    context = {"messages_caught": caught, "enabled": settings.MAIL_GOES_TO_CATCHER}
    return render(request, "web/catcher.html", context)


@web_view
@require_GET
def catcher_message(request: HttpRequest, key: str) -> HttpResponse:
    require_admin(request)
    caught = catcher.get_message(key)
    if caught is None:
        raise Http404
    parsed = email.message_from_bytes(caught.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    context = {
        "key": key,
        "headers": list(parsed.items()),
        "text": _body(parsed, "plain"),
        "html": _body(parsed, "html"),
        "raw": caught.raw.decode("utf-8", errors="replace"),
    }
    return render(request, "web/catcher_message.html", context)


def _body(message: EmailMessage, subtype: str) -> str:
    """The message's text or HTML part as text; empty when it has none or it will not decode."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        return ""
    return content if isinstance(content, str) else ""
