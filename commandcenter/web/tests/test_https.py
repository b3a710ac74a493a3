"""Behind a TLS-terminating proxy: Secure cookies, HSTS, the proxy's https header, the proxies
we believe.

The settings follow PUBLIC_URL, read from the environment when they are imported, so each
case runs in a child process started with its own PUBLIC_URL, against the test database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from django.conf import global_settings

from commandcenter.accounts.services import create_user
from commandcenter.delivery.testing import subprocess_env

# What a browser behind the proxy does: load the sign-in page, sign in with its CSRF token
# (CSRF checks on, as in a real browser), the proxy saying the browser came over https.
BROWSER = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import Client

origin = sys.argv[1]
browser = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
page = browser.get("/login/")
csrf = page.cookies[settings.CSRF_COOKIE_NAME]
answer = browser.post(
    "/login/",
    {"username": "alice", "password": "alice-pass", "csrfmiddlewaretoken": csrf.value},
    headers={"Origin": origin},
)
session = answer.cookies.get(settings.SESSION_COOKIE_NAME)
print(json.dumps({
    "hsts": page.headers.get("Strict-Transport-Security"),
    "csrf_cookie_secure": bool(csrf["secure"]),
    "signed_in": answer.status_code == 302,
    "session_cookie_secure": bool(session and session["secure"]),
}))
"""


def browse(public_url: str, origin: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", BROWSER, origin],
        env=subprocess_env(PUBLIC_URL=public_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def alice_with_a_real_password(transactional_db: None, settings: Any) -> None:
    # The child process checks the password with the production hashers.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    create_user("alice", email="alice@example.com", password="alice-pass")


def test_an_https_public_url_makes_cookies_secure_and_turns_on_hsts(
    alice_with_a_real_password: None,
) -> None:
    seen = browse("https://cc.example.net", origin="https://cc.example.net")

    assert seen == {
        "hsts": "max-age=31536000",
        "csrf_cookie_secure": True,
        "signed_in": True,
        "session_cookie_secure": True,
    }


def test_an_http_public_url_keeps_plain_cookies_and_ignores_the_proxy_header(
    alice_with_a_real_password: None,
) -> None:
    seen = browse("http://127.0.0.1:8000", origin="http://testserver")

    assert seen == {
        "hsts": None,
        "csrf_cookie_secure": False,
        "signed_in": True,
        "session_cookie_secure": False,
    }


def test_an_https_form_from_another_origin_is_refused(alice_with_a_real_password: None) -> None:
    seen = browse("https://cc.example.net", origin="https://evil.example")

    assert seen["signed_in"] is False


def test_a_trusted_proxy_that_is_no_address_stops_the_start_with_its_name() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=subprocess_env(TRUSTED_PROXIES="127.0.0.1, nginx"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "TRUSTED_PROXIES must be IP addresses or networks" in done.stderr
    assert "'nginx'" in done.stderr
