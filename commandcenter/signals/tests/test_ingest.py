"""The MTA pipe (`commandcenter ingest`) and the SMTP listener for the bounce domain."""

from __future__ import annotations

import io
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from commandcenter.accounts.models import User
from commandcenter.delivery.testing import free_port
from commandcenter.outbox.states import Status
from commandcenter.signals.apply import is_temporary_failure
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.tests.factories import delivered_email, dsn, mail, verp

SCRIPT = Path(sys.executable).parent / "commandcenter"


def test_it_applies_a_message_piped_on_stdin(
    alice: User, capsys: pytest.CaptureFixture[str]
) -> None:
    email = delivered_email(alice)
    call_command("ingest", stdin=io.BytesIO(dsn(email)), recipient=verp(email))
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert capsys.readouterr().out.strip() == f"bounce: {email.pk}"
    inbound = InboundMessage.objects.get()
    assert (inbound.source, inbound.envelope_recipient) == ("stdin", verp(email))


def test_it_accepts_an_unmatched_message_without_failing(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("ingest", stdin=io.BytesIO(mail("Subject: hi", "hello")))
    assert capsys.readouterr().out.strip() == "human: no email"
    assert InboundMessage.objects.count() == 1


def test_it_calls_database_trouble_temporary_and_bugs_not() -> None:
    assert is_temporary_failure(OperationalError("database is locked"))
    assert not is_temporary_failure(ValueError("a bug"))


def database_url() -> str:
    """The test database, as a DATABASE_URL a child process can use."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    port = config["PORT"] or 5432
    return f"postgres://{config['USER']}{password}@{config['HOST']}:{port}/{config['NAME']}"


def run_ingest(raw: bytes, url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [str(SCRIPT), "ingest", *args], input=raw, env=env, capture_output=True, timeout=120
    )


@pytest.mark.django_db(transaction=True)
def test_it_works_as_the_console_script_an_mta_runs(alice: User) -> None:
    email = delivered_email(alice)
    done = run_ingest(dsn(email), database_url(), "--recipient", verp(email))
    assert done.returncode == 0, done.stderr
    email.refresh_from_db()
    assert email.status == Status.BOUNCED


def test_it_exits_75_when_the_database_cannot_be_reached() -> None:
    done = run_ingest(b"Subject: hi\r\n\r\nhello", "postgres://nobody@127.0.0.1:9/none")
    assert done.returncode == 75, done.stderr
    assert b"try again later" in done.stderr


@pytest.mark.django_db(transaction=True)
def test_it_receives_a_bounce_by_smtp_with_the_rcpt_to_as_the_verp_hint(
    alice: User, inbound_smtp_port: int
) -> None:
    email = delivered_email(alice)
    raw = dsn(email, with_verp=False).replace(email.message_id.encode(), b"<elsewhere@x>")
    with smtplib.SMTP("127.0.0.1", inbound_smtp_port) as client:
        client.sendmail("", [verp(email)], raw)
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    inbound = InboundMessage.objects.get()
    assert (inbound.source, inbound.email_id) == ("smtp", email.pk)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_mail_for_other_domains(inbound_smtp_port: int) -> None:
    with (
        smtplib.SMTP("127.0.0.1", inbound_smtp_port) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        client.sendmail("someone@example.net", ["victim@example.org"], b"Subject: x\r\n\r\ny")
    assert not InboundMessage.objects.exists()


def test_it_runs_the_listener_command_until_sigterm() -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(SCRIPT), "inbound-smtp", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    assert client.noop()[0] == 250
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the listener never answered")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
