"""The public tracking endpoints: open pixel, click redirect, unsubscribe page and one-click.

None of them ever answers 500 for a bad token: the pixel is always the GIF, an unknown link
is a plain 404 page (never a redirect), and the redirect goes only to the URL recorded at
send time.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotFound,
)
from django.shortcuts import render
from django.utils.encoding import iri_to_uri
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from commandcenter.tracking import conf
from commandcenter.tracking.hits import capture_meta, request_headers, signed_in_user_id, storable
from commandcenter.tracking.models import TrackedLink
from commandcenter.tracking.unsubscribe import email_for_token, is_token, unsubscribe
from commandcenter.tracking.verdict import CLICK, OPEN

logger = logging.getLogger(__name__)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0, private"
UNKNOWN_LINK = "This link is not known. Nothing was opened.\n"
REDIRECT_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class Answer:
    """What a tracking endpoint answers, for Django (a view) and for the WSGI fast path
    (fastpath.py) alike: one rule, two ways in."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


# What the security middleware would add; the fast path skips the middleware, so the
# answers carry them themselves. The tracking URL holds a token: no page gets it as referrer.
SAFE_HEADERS = [
    ("Cache-Control", NO_CACHE),
    ("Pragma", "no-cache"),
    ("Expires", "0"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
]
PIXEL = Answer(
    200,
    [("Content-Type", "image/gif"), ("Content-Length", str(len(GIF))), *SAFE_HEADERS],
    GIF,
)
NOT_FOUND = Answer(
    404,
    [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(UNKNOWN_LINK.encode()))),
        *SAFE_HEADERS,
    ],
    UNKNOWN_LINK.encode(),
)


def pixel(request: HttpRequest, token: str) -> HttpResponse:
    return as_response(open_answer(request.META, token, signed_in_user_id(request)))


def click(request: HttpRequest, token: str) -> HttpResponse:
    return as_response(click_answer(request.META, token, signed_in_user_id(request)))


def open_answer(meta: Mapping[str, Any], token: str, viewer: int | None) -> Answer:
    """Always the 1x1 GIF, whatever the token; a hit with a well-formed token is spooled
    (unknown ones are dropped when the spool is drained)."""
    token = token.removesuffix(".gif")
    if conf.recording() and is_token(token):
        try:
            capture_meta(meta, OPEN, viewer, email_token=token)
        except OSError:
            # The reader still gets the image; the operator learns the spool is failing.
            logger.exception("could not spool an open")
    return PIXEL


def click_answer(meta: Mapping[str, Any], token: str, viewer: int | None) -> Answer:
    """A redirect to the URL recorded at send time, never to one from the request; an
    unknown link gets a plain page."""
    link = recorded_link(token) if is_token(token) else None
    if link is None:
        return NOT_FOUND
    email_id, position, url = link
    location = iri_to_uri(url)
    if not _redirectable(location):
        return NOT_FOUND
    if conf.recording():
        try:
            capture_meta(
                meta,
                CLICK,
                viewer,
                email_id=email_id,
                link_token=token,
                link_url=url,
                link_position=position,
            )
        except OSError:
            logger.exception("could not spool a click")
    return Answer(302, [("Location", location), ("Content-Length", "0"), *SAFE_HEADERS], b"")


def _redirectable(location: str) -> bool:
    """Only http(s), as Django's redirect allows; a URL too broken to parse is not one."""
    try:
        return urlsplit(location).scheme in REDIRECT_SCHEMES
    except ValueError:
        return False


def as_response(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response


@lru_cache(maxsize=20_000)
def recorded_link(token: str) -> tuple[int, int, str] | None:
    """(email id, position, URL) recorded at send time for the token; links never change."""
    with connection.cursor() as cursor:
        cursor.execute(_link_query(), [token])
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row is not None else None


@lru_cache(maxsize=1)
def _link_query() -> str:
    """The ORM's own SQL for a link by its token, built once: building it for every click
    cost ~10 times running it (most clicks are the first of their link, not in the cache)."""
    links = TrackedLink.objects.filter(token__exact="")  # the token is the query's one parameter
    sql, _ = links.values_list("email_id", "position", "url").query.sql_with_params()
    return sql


@csrf_exempt
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponseBase:
    """RFC 8058: a POST whose body is List-Unsubscribe=One-Click comes from the recipient's
    mail app and carries no CSRF token; that exact request alone skips the CSRF check."""
    if request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click":
        return _one_click(request, token)
    return _unsubscribe_page(request, token)


def _one_click(request: HttpRequest, token: str) -> HttpResponse:
    email = email_for_token(token)
    if email is None:
        return HttpResponseNotFound(UNKNOWN_LINK, content_type="text/plain; charset=utf-8")
    unsubscribe(email, via="one_click", payload=_request_text(request))
    return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")


@csrf_protect
def _unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    email = email_for_token(token)
    if email is None:
        return HttpResponseNotFound(UNKNOWN_LINK, content_type="text/plain; charset=utf-8")
    done = email.person.unsubscribed_at is not None
    if request.method == "POST" and not done:
        unsubscribe(email, via="page", payload=_request_text(request))
        done = True
    response = render(
        request,
        "tracking/unsubscribe.html",
        {"address": email.person.email, "sender": email.owner, "done": done},
    )
    _no_cache(response)
    return response


def _request_text(request: HttpRequest) -> str:
    lines = [f"{request.method} {request.get_full_path()}"]
    lines += [f"{name}: {value}" for name, value in request_headers(request).items()]
    return storable("\n".join(lines) + "\n")


def _no_cache(response: HttpResponseBase) -> None:
    response["Cache-Control"] = NO_CACHE
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
