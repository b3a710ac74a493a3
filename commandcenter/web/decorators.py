"""What every page of the web UI does around its view: sign-in, the user's language and
time zone, and a Content-Security-Policy that keeps script out of our origin."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone, translation

from commandcenter.accounts.models import User

# srcdoc frames inherit this policy too: an email's own <script> could not run even if the
# sandbox attribute were missing. Images may come from anywhere (emails embed them).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src * data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

View = Callable[..., HttpResponseBase]


def with_csp(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    return wrapper


def web_view(view: View) -> View:
    """A signed-in page: login required, the user's language and time zone, the CSP."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if isinstance(user, User):
            activate_preferences(request, user)
        return view(request, *args, **kwargs)

    return login_required(with_csp(wrapper))


def activate_preferences(request: HttpRequest, user: User) -> None:
    """The user's own language wins over the browser's; their time zone formats dates."""
    if user.language and translation.check_for_language(user.language):
        translation.activate(user.language)
        request.LANGUAGE_CODE = translation.get_language()
    try:
        timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        timezone.deactivate()
