"""The open pixel and the click redirect under ASGI, without the WSGI bridge.

`commandcenter serve` runs the app under granian's ASGI interface (for the live feed), and
everything but the feed goes through a2wsgi's WSGI bridge — several hand-offs between the
event loop and a thread for each request, which cost the pixel most of its speed. These two
URLs take most of the traffic, so they are answered here: the same answer functions as the
WSGI fast path (tracking/fastpath.py, views.open_answer / click_answer), called once in a
thread of a pool of their own (the answer waits for the spool's disk sync, which the threads
share), with a WSGI-style environ built from the ASGI scope. Behind a trusted proxy, the
client is read from X-Forwarded-For as for every other request (TRUSTED_PROXIES).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from granian.utils.proxies import wrap_asgi_with_proxy_headers

from commandcenter.tracking.fastpath import fast_route

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SPECIAL_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def route_of(scope: Scope) -> tuple[Callable[..., Any], str] | None:
    """The fast path's answer for this request, if it is a hit it answers."""
    if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
        return None
    return fast_route(scope["path"], _header(scope, b"cookie"))


def environ_of(scope: Scope) -> dict[str, Any]:
    """What the answer functions read of a WSGI environ: method, client, path and headers."""
    client = scope.get("client")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "REMOTE_ADDR": client[0] if client else "",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        key = SPECIAL_HEADERS.get(name) or "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        # Repeated headers are one comma-separated value, as a WSGI server gives them.
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", []) if key == name]
    return b"; ".join(values).decode("latin-1") if values else None


class TrackingHits:
    """ASGI: answers a hit of the fast path in one thread hop."""

    def __init__(self, threads: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tracking")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope)
        assert route is not None, "only called for a hit route_of() recognised"
        answer_for, token = route
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self.pool, answer_for, environ_of(scope), token, None)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": _encoded(answer.headers),
            }
        )
        body = b"" if scope["method"] == "HEAD" else answer.body
        await send({"type": "http.response.body", "body": body})


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def tracking_application(threads: int) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The hits' ASGI application, with the client behind trusted proxies resolved."""
    return wrap_asgi_with_proxy_headers(  # type: ignore[no-any-return]
        TrackingHits(threads), trusted_hosts=settings.TRUSTED_PROXIES
    )
