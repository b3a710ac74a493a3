"""The embedded catcher's messages, listed and opened from the UI, their HTML kept inert."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.web.tests.test_views import signed_in

pytestmark = pytest.mark.django_db

CAUGHT = (
    b"Return-Path: <rep@example.com>\r\n"
    b"X-Envelope-To: pat@prospect.example\r\n"
    b"From: rep@example.com\r\n"
    b"To: pat@prospect.example\r\n"
    b"Subject: <script>alert(1)</script> caught\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain hello\r\n"
    b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p>Html hello</p><script>steal()</script>\r\n"
    b"--b--\r\n"
)


@pytest.fixture
def caught_key(tmp_path: Path, settings: SettingsWrapper) -> str:
    settings.CATCHER_DIR = tmp_path / "catcher"
    return mailbox.Maildir(settings.CATCHER_DIR, create=True).add(CAUGHT)


def test_it_lists_and_opens_caught_mail_escaped(admin: User, caught_key: str) -> None:
    client = signed_in(admin)
    listing = client.get(reverse("web:catcher")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; caught" in listing
    assert reverse("web:catcher_message", args=[caught_key]) in listing
    body = client.get(reverse("web:catcher_message", args=[caught_key])).content.decode()
    assert "Plain hello" in body
    assert '<iframe class="email-html" sandbox=""' in body
    assert "<script>steal()" not in body
    assert "&lt;script&gt;steal()&lt;/script&gt;" in body


def test_it_answers_404_for_an_unknown_caught_message(admin: User, caught_key: str) -> None:
    client = signed_in(admin)
    assert client.get(reverse("web:catcher_message", args=["nope"])).status_code == 404
    assert client.get("/catcher/..%2F..%2Fetc%2Fpasswd/").status_code == 404


def test_it_keeps_caught_mail_from_non_admins(alice: User, caught_key: str) -> None:
    client = signed_in(alice)
    assert client.get(reverse("web:catcher")).status_code == 403
    assert client.get(reverse("web:catcher_message", args=[caught_key])).status_code == 403
    assert reverse("web:catcher") not in client.get(reverse("web:tasks")).content.decode()
