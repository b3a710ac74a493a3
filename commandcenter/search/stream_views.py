"""The two doors to the live feed: GET /api/v1/feed (bearer token) and /search/feed/ (the
signed-in page's EventSource). Async views: under ASGI an open feed holds no thread."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from commandcenter.accounts.models import User
from commandcenter.api.auth import user_for_token
from commandcenter.api.errors import AUTH_HINT
from commandcenter.search import feed

# Paths the ASGI app gives to Django's async handler (see commandcenter/asgi.py).
STREAM_PATHS = ("/api/v1/feed", "/search/feed/")


def _open(user: User, last_event_id: str) -> tuple[feed.Listener, feed.Cursor]:
    return feed.Listener.of(user), feed.start_cursor(last_event_id)


def _close_this_threads_connection() -> None:
    connection.close()  # (looked up here, in the thread whose connection it is)


async def _response(request: HttpRequest, user: User) -> StreamingHttpResponse:
    seen = request.headers.get("Last-Event-ID", "") or request.GET.get("last_event_id", "")
    # Under ASGI, Django runs a request's thread-sensitive code in a thread of the request's
    # own, whose database connection lives as long as the request: for a feed, hours (500
    # feeds, 500 PostgreSQL connections). So the feed's queries run in the shared pool, and
    # what the request's thread opened (the session, for the page's feed) is closed here.
    listener, cursor = await sync_to_async(_open, thread_sensitive=False)(user, seen[:50])
    seconds = feed.STREAM_SECONDS
    if isinstance(request, ASGIRequest):
        await sync_to_async(_close_this_threads_connection)()
        content: object = feed.stream(listener, cursor, seconds)
    else:
        content = feed.stream_blocking(listener, cursor, seconds)
    response = StreamingHttpResponse(content, content_type="text/event-stream")  # type: ignore[arg-type]
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


@require_GET
async def api_feed(request: HttpRequest) -> HttpResponseBase:
    user = await sync_to_async(user_for_token, thread_sensitive=False)(_bearer(request))
    if user is None:
        answer = JsonResponse({"detail": f"Missing or unknown API token. {AUTH_HINT}"}, status=401)
        answer["WWW-Authenticate"] = 'Bearer realm="api"'
        return answer
    return await _response(request, user)


@require_GET
async def page_feed(request: HttpRequest) -> HttpResponseBase:
    user = await request.auser()
    if not isinstance(user, User) or not user.is_authenticated:
        return HttpResponse(status=403)
    return await _response(request, user)
