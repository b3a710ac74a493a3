"""The mail catcher's storage: listing newest first, reading one, refusing bad keys."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.delivery.catcher import get_message, list_messages, start_catcher
from commandcenter.delivery.testing import free_port


@pytest.fixture
def catcher_port(tmp_path: Path, settings: SettingsWrapper) -> int:
    settings.CATCHER_DIR = tmp_path / "catcher"
    return free_port()


def send(port: int, subject: str) -> None:
    raw = (
        f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nbody {subject}\r\n"
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com", "c@example.com"], raw.encode())


def test_it_lists_caught_messages_newest_first(catcher_port: int) -> None:
    controller = start_catcher(port=catcher_port)
    try:
        for subject in ("first", "second", "third"):
            send(catcher_port, subject)
    finally:
        controller.stop()
    messages = list_messages()

    assert [m.subject for m in messages] == ["third", "second", "first"]
    assert messages[0].recipients == ["b@example.com", "c@example.com"]
    assert messages[0].sender == "a@example.com"
    assert [m.subject for m in list_messages(limit=1)] == ["third"]


def test_it_reads_one_message_by_key(catcher_port: int) -> None:
    controller = start_catcher(port=catcher_port)
    try:
        send(catcher_port, "only")
    finally:
        controller.stop()
    [listed] = list_messages()

    message = get_message(listed.key)

    assert message is not None
    assert b"body only" in message.raw
    assert message.subject == "only"


@pytest.mark.parametrize(
    "key", ["../secret_key", "/etc/passwd", "..", ".", "", "new/x", "a\x00b", "x" * 300, "nope"]
)
def test_it_refuses_bad_or_unknown_keys(catcher_port: int, key: str) -> None:
    assert get_message(key) is None


def test_it_lists_nothing_before_anything_arrived(catcher_port: int) -> None:
    assert list_messages() == []
