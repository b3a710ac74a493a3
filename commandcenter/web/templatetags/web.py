"""Template helpers of the web UI: the header's menus, the delivery banner, labels."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.utils.safestring import SafeString

from commandcenter.accounts.models import User
from commandcenter.outbox.reasons import explain
from commandcenter.web.folders import ACTION_LABELS, STATUS_LABELS
from commandcenter.web.scope import scope_for, view_as_choices
from commandcenter.web.when import with_zone

register = template.Library()


@register.inclusion_tag("web/_header.html", takes_context=True)
def page_header(context: template.Context) -> dict[str, Any]:
    request: HttpRequest = context["request"]
    user = request.user
    signed_in = isinstance(user, User)
    return {
        "request": request,
        "user": user,
        "signed_in": signed_in,
        "catcher_banner": settings.MAIL_GOES_TO_CATCHER,
        "view_as": view_as_choices(user) if isinstance(user, User) else [],
        "scope": scope_for(request) if signed_in else None,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@register.filter
def explained(reason: str) -> SafeString:
    """A stored reason in the rep's language, outside words quoted as they came."""
    return explain(reason).html() if reason else SafeString("")


@register.filter
def when(moment: dt.datetime | None, kind: str = "long") -> str:
    """A date in the rep's time zone and language, with the zone named."""
    return with_zone(moment, kind)


@register.filter
def id_list(emails: list[Any]) -> str:
    return ",".join(str(email.pk) for email in emails)
