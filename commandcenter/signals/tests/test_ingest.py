"""The MTA pipe (`commandcenter ingest`) and the SMTP listener for the bounce domain."""

from __future__ import annotations

import io
import os
import re
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
from commandcenter.delivery.testing import database_url, free_port
from commandcenter.outbox.states import Status
from commandcenter.signals.apply import is_temporary_failure
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.pipe import EX_TEMPFAIL, defer_on_failure
from commandcenter.signals.tests.factories import delivered_email, dsn, mail, verp

SCRIPT = Path(sys.executable).parent / "commandcenter"
KEPT = "the mail server keeps the message and tries again"


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


def run_ingest(
    raw: bytes, url: str, *args: str, **environment: str
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DATABASE_URL": url, **environment}
    return subprocess.run(
        [str(SCRIPT), "ingest", *args], input=raw, env=env, capture_output=True, timeout=120
    )


@pytest.mark.django_db(transaction=True)
def test_it_works_as_the_console_script_an_mta_runs(alice: User) -> None:
    email = delivered_email(alice)
    done = run_ingest(dsn(email), child_database_url(), "--recipient", verp(email))
    assert done.returncode == 0, done.stderr
    email.refresh_from_db()
    assert email.status == Status.BOUNCED


def test_it_exits_75_when_the_database_cannot_be_reached() -> None:
    done = run_ingest(b"Subject: hi\r\n\r\nhello", "postgres://nobody@127.0.0.1:9/none")
    assert done.returncode == 75, done.stderr
    assert b"try again later" in done.stderr


def test_it_exits_75_with_one_clear_line_whatever_stops_it(db: None, tmp_path: Path) -> None:
    """An MTA bounces a message on any other status, and a bounced DSN goes nowhere: every
    way the command can fail, start-up included, must be a deferral that says why."""
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    failures = [
        # A database that exists but was never migrated.
        ({"DATABASE_URL": unmigrated_database(tmp_path)}, [], rb"no such table|does not exist"),
        ({"SEND_BATCH_SIZE": "lots"}, [], rb"SEND_BATCH_SIZE must be a whole number, got 'lots'"),
        ({"DATABASE_URL": "mysql://db/x"}, [], rb"DATABASE_URL must be sqlite:// or postgres://"),
        ({"COMMANDCENTER_VAR": str(not_a_directory / "var")}, [], rb"NotADirectoryError"),
        # Two recipients for one --recipient (a transport without destination_recipient_limit).
        ({}, ["--recipient", "a@x", "b@x"], rb"unrecognized arguments: b@x"),
    ]
    for environment, args, says in failures:
        done = run_ingest(b"Subject: hi\r\n\r\nhello", child_database_url(), *args, **environment)
        assert done.returncode == 75, done.stderr
        lines = done.stderr.decode().splitlines()
        deferral = [line for line in lines if line.endswith(" - exit 75, " + KEPT)]
        assert len(deferral) == 1, done.stderr
        assert deferral[0].startswith("commandcenter ingest: ")
        assert re.search(says, done.stderr), done.stderr
        # A traceback, if any, comes after the line that explains: MTAs keep the start.
        if "Traceback" in done.stderr.decode():
            assert lines[0] == deferral[0]
    assert not InboundMessage.objects.exists()


def test_it_still_exits_0_for_a_message_it_stored_and_75_only_for_trouble() -> None:
    with pytest.raises(SystemExit) as stop, defer_on_failure():
        raise RuntimeError("a bug")
    assert stop.value.code == EX_TEMPFAIL
    with pytest.raises(SystemExit) as stop, defer_on_failure():
        sys.exit(0)
    assert stop.value.code == 0
    with defer_on_failure():
        pass


def child_database_url() -> str:
    """The test database, as a DATABASE_URL a child process can use."""
    return database_url(connection.settings_dict)


def unmigrated_database(tmp_path: Path) -> str:
    """A database of the backend under test without our tables (read from, never written)."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return database_url({**connection.settings_dict, "NAME": "postgres"})


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
