"""Mail from the world to our addresses through a real Postfix, and a pipe that cannot run.

The prospect's answers arrive at the instance's mx listener (which trusts nobody, as port 25
does): a reply to the rep's address, which a virtual alias copies to the bounce domain; an
out-of-office and an ARF complaint to the VERP address the prospect's copy names in its
Return-Path. All of them reach `commandcenter ingest` by the pipe.

Then pipes that cannot do their work - the database down, the database not migrated, a bad
setting, a var/ the pipe's user cannot write - must each exit 75 with a clear line, so that
Postfix keeps the message deferred in its queue (never bounced: a DSN's bounce goes nowhere),
and deliver it once the operator has fixed the cause and flushed the queue.
"""

from __future__ import annotations

import os
import re
import smtplib
import tempfile
import zlib
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path
from textwrap import indent

import psycopg
import pytest
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user
from commandcenter.delivery.testing import database_url
from commandcenter.outbox.compose import compose_single
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.tests.factories import delivered_email, dsn, mail
from commandcenter.signals.tests.postfix import (
    ALIAS_LINE,
    LISTENER_TRANSPORT,
    RECIPIENT_LIMIT,
    ROUTING_MAIN_CF,
    TRANSPORT_LINE,
    Pipe,
    Postfix,
    Setup,
    header,
    kinds,
    pipe_environment,
    pipe_service,
    pipe_user,
    running_postfix,
    send_due,
    wait_for_status,
)

BOUNCES = "bounces.test"
PROSPECT = "pat@inbox.test"
REP = "rita@sales.test"
REPLY_COPIES = f"replies@{BOUNCES}"

# domain -> (pipe service, what its stderr line must say)
BROKEN = {
    "down.test": ("ccdown", r"OperationalError|temporary failure"),
    "unmigrated.test": ("ccunmigrated", r"no such table|does not exist"),
    "misconfigured.test": ("ccmisconfigured", r"IN_PROGRESS_LEASE_SECONDS must be a whole"),
    "novar.test": ("ccnovar", r"PermissionError: \[Errno 13\] Permission denied"),
}
# Where Python cannot even start (a venv the pipe's user may not enter), Postfix's pipe says
# so itself, and defers too.
UNRUNNABLE = {"unrunnable.test": ("ccunrunnable", r"execvp \S+: Permission denied")}

DOCS = Path(__file__).resolve().parents[3] / "docs" / "inbound.md"
# The values docs/inbound.md writes the configuration with.
DOCS_ENVIRONMENT = {
    "COMMANDCENTER_VAR": "/srv/commandcenter/var",
    "DATABASE_URL": "sqlite:////srv/commandcenter/var/commandcenter.sqlite3",
    "BOUNCE_DOMAIN": "bounces.example.com",
}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def unmigrated_database_url(django_db_setup: None) -> Iterator[str]:
    """A database of the backend under test that holds none of our tables."""
    if connection.vendor == "sqlite":
        # In a directory of its own that the pipe's user may write (SQLite's -wal file).
        with tempfile.TemporaryDirectory(prefix="cc-unmigrated-") as directory:
            user = pipe_user()
            Path(directory).chmod(0o755)
            os.chown(directory, user.pw_uid, user.pw_gid)
            yield f"sqlite:///{directory}/empty.sqlite3"
        return
    config = dict(connection.settings_dict)
    name = f"{config['NAME']}_unmigrated"
    server = database_url({**config, "NAME": "postgres"})
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url({**config, "NAME": name})
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def locked_var() -> Iterator[Path]:
    """A var/ that only root may write, and no SECRET_KEY: the pipe cannot make its key."""
    with tempfile.TemporaryDirectory(prefix="cc-locked-var-") as directory:
        Path(directory).chmod(0o755)
        (Path(directory) / "static").mkdir()
        yield Path(directory)


@pytest.fixture(scope="module")
def unrunnable_command() -> Iterator[Path]:
    """A console script in a directory the pipe's user may not enter."""
    with tempfile.TemporaryDirectory(prefix="cc-unrunnable-") as directory:
        script = Path(directory) / "commandcenter"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        Path(directory).chmod(0o700)
        yield script


@pytest.fixture(scope="module")
def postfix(
    unmigrated_database_url: str, locked_var: Path, unrunnable_command: Path
) -> Iterator[Postfix]:
    working = pipe_environment(BOUNCE_DOMAIN=BOUNCES)
    broken = {
        "ccdown": {**working, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"},
        "ccunmigrated": {**working, "DATABASE_URL": unmigrated_database_url},
        "ccmisconfigured": {**working, "IN_PROGRESS_LEASE_SECONDS": "5m"},
        "ccnovar": {**working, "COMMANDCENTER_VAR": str(locked_var)},
    }
    setup = Setup(
        relay_domains=[BOUNCES],
        mailboxes=[PROSPECT, REP],
        pipes=[
            Pipe("commandcenter", working),
            *(Pipe(name, environment) for name, environment in broken.items()),
            Pipe("ccunrunnable", working, command=unrunnable_command),
        ],
        transports={
            BOUNCES: "commandcenter:",
            **{domain: f"{service}:" for domain, (service, _) in {**BROKEN, **UNRUNNABLE}.items()},
        },
        aliases={REP: REPLY_COPIES},
    )
    with running_postfix(setup) as running:
        yield running


@pytest.fixture
def rita(db: None, settings: SettingsWrapper) -> User:
    """A rep whose mailbox is on this Postfix."""
    settings.BOUNCE_DOMAIN = BOUNCES
    return create_user("rita", email=REP, password="rita-pass")


def sent_copy(postfix: Postfix, rep: User) -> tuple[Email, bytes]:
    """An email sent by our worker through Postfix, and the copy in the prospect's mailbox."""
    email = compose_single(rep, to=PROSPECT, subject="Pricing", body_text="Hello Pat")
    send_due(postfix, BOUNCES)
    email.refresh_from_db()
    copy = postfix.wait_for(
        "the copy in the prospect's mailbox",
        lambda: next(
            (
                raw
                for raw in postfix.mailbox(PROSPECT)
                if header(raw, "Message-ID") == email.message_id
            ),
            None,
        ),
    )
    return email, copy


def answer(copy: bytes, *, to: str, subject: str, body: str, extra: str = "") -> bytes:
    """The prospect's mail program answering the copy it holds."""
    message_id = header(copy, "Message-ID")
    return mail(
        f"""
From: Pat <{PROSPECT}>
To: {to}
Subject: {subject}
Message-ID: <{zlib.crc32(body.encode())}@inbox.test>
In-Reply-To: {message_id}
References: {message_id}
Date: Mon, 3 Mar 2031 09:00:00 +0000
{extra}
""",
        body,
    )


def test_a_reply_comes_in_by_the_alias_that_copies_the_rep_s_mail(
    rita: User, postfix: Postfix
) -> None:
    email, copy = sent_copy(postfix, rita)
    rep_address = parseaddr(header(copy, "Reply-To"))[1]
    assert rep_address == REP
    reply = answer(copy, to=rep_address, subject="Re: Pricing", body="Thursday works for me.")
    postfix.submit(reply, PROSPECT, [rep_address], mx=True)

    email = postfix.wait_for(
        "the reply", lambda: Email.objects.filter(pk=email.pk, replies=1).first()
    )
    assert email.status == Status.DELIVERED
    assert "replied" in kinds(email)
    inbound = InboundMessage.objects.get(email=email)
    assert (inbound.source, inbound.kind) == ("postfix", "human")
    assert (inbound.envelope_sender, inbound.envelope_recipient) == (PROSPECT, REPLY_COPIES)
    # The rep still has the reply in their own mailbox.
    postfix.wait_for(
        "the reply in the rep's mailbox",
        lambda: [raw for raw in postfix.mailbox(REP) if b"Thursday works for me." in raw],
    )


def test_an_out_of_office_to_the_verp_address_pauses_nothing_and_counts_no_reply(
    rita: User, postfix: Postfix
) -> None:
    email, copy = sent_copy(postfix, rita)
    # RFC 3834: an auto-responder answers the envelope sender, which the copy's Return-Path
    # names; it sends with the null sender so that nothing answers it back.
    verp = parseaddr(header(copy, "Return-Path"))[1]
    assert verp == f"bounce+{email.token}@{BOUNCES}"
    auto = answer(
        copy,
        to=verp,
        subject="Out of Office: Pricing",
        body="I am out of the office until 2031-03-10.",
        extra="Auto-Submitted: auto-replied",
    )
    postfix.submit(auto, "", [verp], mx=True)

    event = postfix.wait_for(
        "the auto-reply", lambda: email.events.filter(kind="auto_replied").first()
    )
    assert event.data["return_date"] == "2031-03-10"
    email.refresh_from_db()
    assert (email.status, email.replies) == (Status.DELIVERED, 0)
    inbound = InboundMessage.objects.get(email=email)
    assert (inbound.source, inbound.kind, inbound.envelope_recipient) == (
        "postfix",
        "auto_reply",
        verp,
    )


def test_an_arf_complaint_moves_the_email_to_spam_and_unsubscribes(
    rita: User, postfix: Postfix
) -> None:
    email, copy = sent_copy(postfix, rita)
    verp = parseaddr(header(copy, "Return-Path"))[1]
    quoted = copy.split(b"\n\n", 1)[0].decode()
    report = mail(
        f"""
From: Feedback Loop <fbl@isp.example>
To: {verp}
Subject: Abuse report
Message-ID: <arf-{email.pk}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B"
""",
        f"""
--B
Content-Type: text/plain

This is an email abuse report for an email message received from IP 127.0.0.1.

--B
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: <{PROSPECT}>

--B
Content-Type: text/rfc822-headers

{quoted.replace(chr(13), "")}

--B--
""",
    )
    postfix.submit(report, "fbl@isp.example", [verp], mx=True)

    email = wait_for_status(postfix, email, Status.SPAM)
    assert email.person.unsubscribed_at is not None
    [complained] = email.events.filter(kind="complained")
    assert complained.data["feedback_type"] == "abuse"


def test_the_mx_takes_mail_for_its_domains_only(postfix: Postfix) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        postfix.submit(mail("Subject: hi", "relay me"), "x@example.net", ["y@example.org"], mx=True)
    assert b"Relay access denied" in refused.value.recipients["y@example.org"][1]


def test_a_pipe_that_cannot_run_keeps_the_message_deferred_until_fixed(
    rita: User, postfix: Postfix
) -> None:
    email = delivered_email(rita, to=PROSPECT)
    failing = {**BROKEN, **UNRUNNABLE}
    for number, domain in enumerate(failing):
        report = dsn(email, message_id=f"<report-{number}@mx.example.org>")
        postfix.submit(report, "", [f"bounce+{email.token}@{domain}"], mx=False)

    for domain, (service, says) in failing.items():
        line = postfix.wait_for_log(rf"to=<[^>]+@{re.escape(domain)}>, relay={service}, ")
        assert "status=deferred (temporary failure. Command output: " in line, line
        assert re.search(says, line), line
    for service, _ in BROKEN.values():
        # Our own line comes first, where Postfix's log and the queue keep it.
        line = postfix.log_lines(rf"relay={service}, ")[0]
        assert "Command output: commandcenter ingest: " in line, line
        assert " - exit 75, the mail server keeps the message and tries again" in line
    assert not bounced(postfix)
    deferred = {
        message["recipients"][0]["address"].partition("@")[2]: message
        for message in postfix.queue()
    }
    assert set(deferred) == set(failing)
    for message in deferred.values():
        assert message["queue_name"] == "deferred"
        assert message["recipients"][0]["delay_reason"].startswith("temporary failure. ")
    assert not InboundMessage.objects.exists()
    email.refresh_from_db()
    assert email.status == Status.DELIVERED

    # The operator points the domains at a pipe that works, reloads, flushes the queue.
    postfix.setup.transports.update({domain: "commandcenter:" for domain in failing})
    postfix.write_config()
    postfix.postfix("reload")
    postfix.flush_until(
        "the deferred messages applied",
        lambda: InboundMessage.objects.filter(source="postfix").count() == len(failing),
    )
    postfix.wait_for("an empty queue", lambda: not postfix.queue() or None)
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert not bounced(postfix)


def bounced(postfix: Postfix) -> list[str]:
    """Postfix's log lines of a message to a failing pipe that it bounced."""
    domains = "|".join(re.escape(domain) for domain in {**BROKEN, **UNRUNNABLE})
    return postfix.log_lines(rf"@(?:{domains})>, .*status=bounced")


def test_the_docs_show_the_configuration_tested_here() -> None:
    """docs/inbound.md shows, filled in with its own paths, what these tests run Postfix with."""
    docs = DOCS.read_text()
    domain = DOCS_ENVIRONMENT["BOUNCE_DOMAIN"]
    command = "/srv/commandcenter/.venv/bin/commandcenter"
    shown = [
        pipe_service("commandcenter", "commandcenter", command, DOCS_ENVIRONMENT),
        ROUTING_MAIN_CF.format(relay_domains=domain, config="/etc/postfix")
        + RECIPIENT_LIMIT.format(name="commandcenter"),
        TRANSPORT_LINE.format(domain=domain, transport="commandcenter:"),
        TRANSPORT_LINE.format(domain=domain, transport=LISTENER_TRANSPORT.format(port=2525)),
        ALIAS_LINE.format(address="rita@example.com", copy=f"replies@{domain}"),
    ]
    for block in shown:
        assert indent(block, "    ") in docs, f"docs/inbound.md does not show:\n{block}"
    [check] = [line for line in docs.splitlines() if line.strip().startswith("sudo -u ")]
    assert f"{command} ingest " in check
    for name, value in DOCS_ENVIRONMENT.items():
        assert f"{name}={value}" in check
