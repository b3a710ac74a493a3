"""The ASGI application `commandcenter serve` runs under granian.

Streams (the live feed) go to Django's async handler: an open feed is a coroutine, not a
thread. Opens and clicks go to tracking/asgi_hits.py (one thread hop, no bridge). Everything
else is the WSGI application (with its tracking fast path) run in a pool
of COMMANDCENTER_WSGI_THREADS threads by a2wsgi — the same code and speed as plain WSGI,
where opens and clicks wait on the spool's disk sync.
"""

from __future__ import annotations

import os
from typing import Any

from a2wsgi import WSGIMiddleware
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
django_async = get_asgi_application()

from commandcenter.search.stream_views import STREAM_PATHS  # noqa: E402 -- after setup
from commandcenter.tracking.asgi_hits import route_of, tracking_application  # noqa: E402
from commandcenter.wsgi import application as wsgi_application  # noqa: E402

THREADS = int(os.environ.get("COMMANDCENTER_WSGI_THREADS", "16"))
wsgi_in_threads = WSGIMiddleware(wsgi_application, workers=THREADS)  # type: ignore[arg-type]
tracking_hits = tracking_application(THREADS)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http" and scope["path"].startswith(STREAM_PATHS):
        await django_async(scope, receive, send)
        return
    if route_of(scope) is not None:
        await tracking_hits(scope, receive, send)
        return
    await wsgi_in_threads(scope, receive, send)  # type: ignore[arg-type]
