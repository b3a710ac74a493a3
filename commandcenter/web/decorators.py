"""What every page of the web UI does around its view: sign-in, the user's language and
time zone, and a Content-Security-Policy that keeps script out of our origin."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        if not isinstance(user, User):
            return view(request, *args, **kwargs)
        with preferences(request, user):
            response = view(request, *args, **kwargs)
            render = getattr(response, "render", None)
            if callable(render) and not getattr(response, "is_rendered", True):
                # A TemplateResponse renders later: in the user's language and zone, too.
                render()
            return response

    return login_required(with_csp(wrapper))


@contextmanager
def preferences(request: HttpRequest, user: User) -> Iterator[None]:
    """The user's own language wins over the browser's; their time zone formats dates. Both
    last for the request only (the thread may serve someone else, or run a test, next)."""
    language = translation.get_language()
    if user.language and translation.check_for_language(user.language):
        language = user.language
    try:
        zone: zoneinfo.ZoneInfo | None = zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    with translation.override(language), timezone.override(zone):
        request.LANGUAGE_CODE = translation.get_language()
        yield
