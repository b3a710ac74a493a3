"""The pixel and click answered by the WSGI application before Django's middleware.

These tests call the project's real WSGI application (commandcenter.wsgi) as a server does.
They commit (transactional_db): the fast path, like a real request, closes expired database
connections, which a test wrapped in a transaction would not survive.
"""

from __future__ import annotations

import io
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.test import Client

from commandcenter.outbox.models import Email, Event
from commandcenter.tracking.hits import drain
from commandcenter.tracking.models import TrackedLink
from commandcenter.tracking.tests.conftest import CHROME
from commandcenter.tracking.views import GIF, UNKNOWN_LINK
from commandcenter.wsgi import application

pytestmark = pytest.mark.django_db(transaction=True)

# SecurityMiddleware sets it on every answer that goes through Django; the fast path, which
# skips the middleware, does not (it sets the headers an image and a redirect need).
DJANGO_ONLY_HEADER = "Cross-Origin-Opener-Policy"


class Answer:
    def __init__(self, environ: dict[str, Any]) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}
        chunks = application(environ, self._start_response)
        self.body = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()

    def _start_response(self, status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        self.status, self.headers = status, dict(headers)


def get(path: str, **extra: str) -> Answer:
    """A GET as a WSGI server hands it over (PATH_INFO holds the raw bytes as latin-1)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_USER_AGENT": CHROME,
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.input": io.BytesIO(),
        **extra,
    }
    setup_testing_defaults(environ)
    return Answer(environ)


def test_it_answers_the_pixel_without_the_middleware_and_records_the_open(email: Email) -> None:
    answer = get(f"/t/o/{email.token}.gif", HTTP_REFERER="https://mail.example/")
    assert answer.status == "200 OK"
    assert answer.body == GIF
    assert answer.headers["Content-Type"] == "image/gif"
    assert "no-store" in answer.headers["Cache-Control"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert DJANGO_ONLY_HEADER not in answer.headers
    assert drain() == 1
    (opened,) = Event.objects.filter(email=email, kind="opened")
    assert (opened.data["user_agent"], opened.data["ip"]) == (CHROME, "203.0.113.7")
    assert opened.data["referrer"] == "https://mail.example/"
    assert opened.data["machine"] is False


def test_it_redirects_a_click_to_the_recorded_url_and_records_it(email: Email) -> None:
    link = email.links.order_by("position").first() or TrackedLink.objects.create(
        email=email, url="https://example.com/pricing?a=1&b=2", position=0
    )
    answer = get(f"/t/c/{link.token}", QUERY_STRING="url=https://evil.example/")
    assert answer.status == "302 Found"
    assert answer.headers["Location"] == link.url
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert DJANGO_ONLY_HEADER not in answer.headers
    assert drain() == 1
    (clicked,) = Event.objects.filter(email=email, kind="clicked")
    assert clicked.data["url"] == link.url


@pytest.mark.parametrize(
    "token", ["", "x", "\xc3\xa9\xe4\xb8\xad", "../../etc/passwd", "A" * 5000, "%00", "a/b"]
)
def test_it_answers_garbage_tokens_with_the_pixel_or_a_plain_page(email: Email, token: str) -> None:
    pixel = get(f"/t/o/{token}")
    assert (pixel.status, pixel.body) == ("200 OK", GIF)
    link = get(f"/t/c/{token}")
    assert link.status == "404 Not Found"
    assert link.body == UNKNOWN_LINK.encode()
    assert "Location" not in link.headers
    drain()
    assert not Event.objects.filter(kind__in=["opened", "clicked"]).exists()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://[broken/"])
def test_it_never_redirects_to_a_recorded_url_that_is_not_http(email: Email, url: str) -> None:
    link = TrackedLink.objects.create(email=email, url=url, position=99)
    answer = get(f"/t/c/{link.token}")
    assert answer.status == "404 Not Found"
    assert "Location" not in answer.headers


def test_it_leaves_a_request_with_a_session_to_django_so_the_senders_open_is_excluded(
    email: Email,
) -> None:
    browser = Client()
    browser.force_login(email.owner)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
    answer = get(f"/t/o/{email.token}.gif", HTTP_COOKIE=cookie)
    assert (answer.status, answer.body) == ("200 OK", GIF)
    assert DJANGO_ONLY_HEADER in answer.headers
    drain()
    (opened,) = Event.objects.filter(email=email, kind="opened")
    assert (opened.data["excluded"], opened.detail) == (True, "the sender's own open")
    email.refresh_from_db()
    assert email.opens == 0


def test_it_answers_a_request_with_other_cookies_itself(email: Email) -> None:
    answer = get(f"/t/o/{email.token}.gif", HTTP_COOKIE="theme=dark; csrftoken=abc")
    assert DJANGO_ONLY_HEADER not in answer.headers
    drain()
    email.refresh_from_db()
    assert email.opens == 1


def test_it_passes_every_other_path_to_django() -> None:
    answer = get("/login/")
    assert answer.status == "200 OK"
    assert DJANGO_ONLY_HEADER in answer.headers


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # A reverse proxy on the same host appends the address it saw.
        ("127.0.0.1", "198.51.100.23", "198.51.100.23"),
        ("::1", "10.0.0.9, 198.51.100.23", "198.51.100.23"),
        # Anyone else's X-Forwarded-For is a claim, not an address.
        ("203.0.113.7", "198.51.100.23", "203.0.113.7"),
    ],
)
def test_it_sees_the_client_behind_a_trusted_proxy_only(
    email: Email, peer: str, forwarded_for: str, client: str
) -> None:
    get(f"/t/o/{email.token}.gif", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded_for)
    drain()
    (opened,) = Event.objects.filter(email=email, kind="opened")
    assert opened.data["ip"] == client
