"""The `worker` and `mailcatcher` management commands."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.catcher import get_message, list_messages
from commandcenter.delivery.testing import SmtpSink, free_port
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.states import Status

COMMANDCENTER = str(Path(sys.executable).parent / "commandcenter")


@pytest.mark.django_db
def test_it_sends_everything_due_with_worker_once(alice: User, sink: SmtpSink) -> None:
    emails = [scheduled_email(alice, to=f"p{n}@example.org") for n in range(3)]
    out = StringIO()

    call_command("worker", "--once", stdout=out)

    assert "3 email(s) handled" in out.getvalue()
    for email in emails:
        email.refresh_from_db()
        assert email.status == Status.DELIVERED
    assert len(sink.messages) == 3


def test_it_catches_mail_with_the_mailcatcher_command(
    tmp_path: Path, settings: SettingsWrapper
) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "COMMANDCENTER_VAR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "commandcenter.settings",
        "PYTHONUNBUFFERED": "1",
    }
    catcher = subprocess.Popen(
        [COMMANDCENTER, "mailcatcher", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert catcher.stdout is not None
        banner = catcher.stdout.readline()
        assert f"listening on smtp://127.0.0.1:{port}" in banner
        assert str(tmp_path / "catcher") in banner
        message = EmailMessage()
        message["From"] = "alice@example.com"
        message["To"] = "carol@example.org"
        message["Subject"] = "Caught"
        message["Message-ID"] = "<caught-1@example.com>"
        message.set_content("Hello from the test")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(message, from_addr="bounce+t@b.example", to_addrs=["c@d.example"])
    finally:
        catcher.send_signal(signal.SIGTERM)
        output, _ = catcher.communicate(timeout=10)
    assert catcher.returncode == 0
    assert "stopped" in output

    settings.CATCHER_DIR = tmp_path / "catcher"
    [caught] = list_messages()
    assert caught.subject == "Caught"
    assert caught.sender == "bounce+t@b.example"
    assert caught.recipients == ["c@d.example"]
    assert caught.message_id == "<caught-1@example.com>"
    assert caught.raw == b""
    full = get_message(caught.key)
    assert full is not None
    assert b"Hello from the test" in full.raw
    assert full.size == len(full.raw)


def test_it_refuses_a_bad_mailcatcher_port() -> None:
    with pytest.raises(CommandError, match="--port must be between 1 and 65535"):
        call_command("mailcatcher", "--port", "70000")
