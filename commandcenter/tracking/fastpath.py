"""The open pixel and the click redirect, answered before Django's request machinery.

These two URLs take most of the traffic (every open, every click, every scanner) and need
none of the middleware: no session, no locale, no messages, no CSRF (they change nothing a
user asked for). Going through the whole stack cost 2-3 times the work of the answer itself.
So the WSGI application is wrapped: a hit on either path is answered here by the same
functions the Django views call (views.open_answer, views.click_answer), with the same
headers. A request that carries a session cookie still goes through Django, because only
the session says whether it is the sender's own open or click, which must be excluded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.core.handlers.wsgi import get_path_info
from django.db import close_old_connections
from django.http.cookie import parse_cookie
from django.urls import reverse

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TrackingFastPath:
    """WSGI middleware: answers /t/o/… and /t/c/… itself, passes everything else on."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        route = fast_route(get_path_info(environ), environ.get("HTTP_COOKIE"))
        if route is None:
            return self.app(environ, start_response)
        answer_for, token = route
        answer = answer_for(environ, token, None)
        start_response(f"{answer.status} {_REASONS[answer.status]}", answer.headers)
        return [answer.body]


def fast_route(path: str, cookie_header: str | None) -> tuple[Callable[..., Any], str] | None:
    """(the answer function, the token) for a hit this fast path answers, else None. The
    WSGI middleware above and the ASGI application (commandcenter/asgi.py) both ask here."""
    for prefix, answer_for in _routes().items():
        if path.startswith(prefix):
            if _has_session_cookie(cookie_header):
                return None
            return answer_for, path.removeprefix(prefix)
    return None


_REASONS = {200: "OK", 302: "Found", 404: "Not Found"}


@lru_cache(maxsize=1)
def _routes() -> Mapping[str, Callable[..., Any]]:
    """URL prefix -> the answer for a token under it, from the URLconf itself (computed on
    first use: the URLconf needs the apps loaded)."""
    from commandcenter.tracking import views

    return {
        reverse("tracking:pixel", args=[""]): views.open_answer,
        reverse("tracking:click", args=[""]): _click_outside_a_request(views.click_answer),
    }


def _click_outside_a_request(answer_for: Callable[..., Any]) -> Callable[..., Any]:
    """A click may look its link up in the database; Django's request signals, which keep
    connections fresh (closing broken or expired ones), do not fire here, so this does."""

    def answer(environ: Mapping[str, Any], token: str, viewer: int | None) -> Any:
        close_old_connections()
        try:
            return answer_for(environ, token, viewer)
        finally:
            close_old_connections()

    return answer


def _has_session_cookie(raw: str | None) -> bool:
    if not raw:
        return False
    from commandcenter.tracking.hits import has_session_cookie

    return has_session_cookie(parse_cookie(raw))
