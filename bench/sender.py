"""Sender throughput to a loopback SMTP sink, against two references from the same run.

1. ours: N emails composed through outbox.compose, then `Sender(...).drain()` (claim, render,
   send over one connection per batch, record) into SmtpSink (aiosmtpd on loopback).
2. ceiling: the very bytes the sink received from us, replayed by a bare smtplib loop over ONE
   connection to a fresh sink — no database, no rendering.
3. django-post-office: the same rendered messages queued with post_office.mail.send, then its
   `send_queued_mail` command timed, in a child process with post_office installed
   (bench/settings_postoffice.py) and a scratch SQLite database of its own.

The sink runs in a child process of its own for all three, like a real MTA: on this 2-core
machine it then competes with the contender for cores, not for one interpreter's GIL.

Targets: ours >= 0.7x the ceiling, and ahead of post-office. BENCH_SENDER_EMAILS (default 2000);
BENCH_SENDER_DATABASE=postgresql runs ours and post-office on PostgreSQL (scratch databases).
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from bench.scratch import ROOT, django, scratch_database

TARGET_RATIO = 0.7


def main(argv: list[str]) -> None:
    emails = int(os.environ.get("BENCH_SENDER_EMAILS", "2000"))
    backend = os.environ.get("BENCH_SENDER_DATABASE", "sqlite")
    with scratch_database(backend, "sender") as env:
        if env is None:
            raise SystemExit(f"no {backend} database to measure on")
        var = Path(env["COMMANDCENTER_VAR"])
        messages = var / "messages.json"
        ours = _child(
            env, f"from bench.sender import measure_ours; measure_ours({emails}, {str(messages)!r})"
        )
        with contextlib.ExitStack() as stack:
            # Post-office on the same kind of database, one of its own.
            office_url = f"sqlite:///{var / 'office.sqlite3'}"
            if backend != "sqlite":
                office_base = stack.enter_context(scratch_database(backend, "office"))
                assert office_base is not None, "the server was there a moment ago"
                office_url = office_base["DATABASE_URL"]
            office_env = dict(env, DJANGO_SETTINGS_MODULE="bench.settings_postoffice")
            office_env["DATABASE_URL"] = office_url
            django(office_env, "migrate", "--noinput")
            office = _child(
                office_env,
                "from bench.sender import measure_post_office; "
                f"measure_post_office({str(messages)!r})",
            )
    rates = {**ours, **office}
    ceiling = rates["smtplib"]
    for name, label in (
        ("smtplib", "ceiling: bare smtplib loop, one connection"),
        ("ours", "ours: Sender.drain()"),
        ("post_office", "django-post-office send_queued_mail"),
    ):
        print(f"   {label}: {rates[name]:,.0f} msgs/s ({rates[name] / ceiling:.2f}x the ceiling)")
    verdicts = [
        "ours >= 0.7x smtplib: " + ("ok" if rates["ours"] >= TARGET_RATIO * ceiling else "NO"),
        "ahead of post-office: "
        + ("ok" if rates["ours"] > rates["post_office"] else "NO")
        + f" ({rates['ours'] / rates['post_office']:.2f}x)",
    ]
    print(f"   {emails:,} emails on {backend}; " + "; ".join(verdicts), flush=True)


def _child(env: dict[str, str], code: str) -> dict[str, float]:
    output = django(env, "shell", "-c", code)
    return dict(json.loads(output.strip().splitlines()[-1]))


class Received(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class _SinkProcess:
    """SmtpSink in a child process, like a real MTA; `messages()` fetches what it received.

    The child answers one line per request on its stdin: "dump PATH" writes the received
    messages to PATH as JSON; end of input stops it.
    """

    host = "127.0.0.1"

    def __enter__(self) -> _SinkProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from bench.sender import serve_sink; serve_sink()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        self.port = int(self._answer())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def messages(self) -> list[Received]:
        with tempfile.NamedTemporaryFile(suffix=".json") as dump:
            assert self.process.stdin is not None
            self.process.stdin.write(f"dump {dump.name}\n")
            self.process.stdin.flush()
            self._answer()
            rows = json.loads(Path(dump.name).read_text())
        return [
            Received(sender, recipients, raw.encode("latin-1")) for sender, recipients, raw in rows
        ]

    def _answer(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the sink process died")
        return line.strip()


def serve_sink() -> None:
    """The sink process: reports its port, then answers requests until stdin closes."""
    from commandcenter.delivery.testing import SmtpSink

    with SmtpSink() as sink:
        print(sink.port, flush=True)
        for line in sys.stdin:
            command, _, path = line.strip().partition(" ")
            if command == "dump":
                rows = [(m.mail_from, m.rcpt_tos, m.raw.decode("latin-1")) for m in sink.messages]
                Path(path).write_text(json.dumps(rows))
                print("ok", flush=True)


def _sink() -> _SinkProcess:
    return _SinkProcess()


def _pointing_at(sink: Any) -> Any:
    from django.test.utils import override_settings

    return override_settings(
        EMAIL_BACKEND="commandcenter.delivery.smtp.EmailBackend",
        EMAIL_HOST=sink.host,
        EMAIL_PORT=sink.port,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
    )


def measure_ours(count: int, messages_file: str) -> None:
    """In a child: our sender, then the smtplib ceiling on the bytes it sent. Prints JSON."""
    from commandcenter.accounts.services import create_user
    from commandcenter.delivery.sender import Sender
    from commandcenter.outbox.compose import MAX_GROUP, Content, Recipient, compose_bulk

    rep = create_user("bench-sender", email="rep@bench.example")
    rep.first_name, rep.last_name, rep.signature = "Ben", "Chmark", "Ben Chmark, Bench Inc."
    rep.save()
    content = Content(
        # New addresses have no name or company yet: the fallbacks fill them (the merge rule
        # refuses a field that would come out empty).
        "Quick question for {{company | your team}}",
        "Hi {{first_name | there}},\n\nWould a short call next week work?\n\n{{my_signature}}",
        "<p>Hi {{first_name | there}},</p><p>Would a "
        "<a href='https://example.com/demo'>short call</a> next week work?</p>"
        "<p>{{my_signature}}</p>",
    )
    addresses = [f"prospect{n}@customer{n % 50}.example" for n in range(count)]
    for start in range(0, count, MAX_GROUP):
        chunk = addresses[start : start + MAX_GROUP]
        compose_bulk(rep, mode="group", recipients=[Recipient(a) for a in chunk], content=content)

    with _sink() as sink, _pointing_at(sink):
        started = time.perf_counter()
        sent = Sender("bench").drain()
        ours = count / (time.perf_counter() - started)
        received = sink.messages()
    if sent != count or len(received) != count:
        raise SystemExit(f"our sender handled {sent} and the sink got {len(received)} of {count}")
    _dump_rendered(messages_file)

    with _sink() as sink:
        started = time.perf_counter()
        connection = smtplib.SMTP(sink.host, sink.port)
        for message in received:
            connection.sendmail(message.mail_from, message.rcpt_tos, message.raw)
        connection.quit()
        ceiling = count / (time.perf_counter() - started)
        replayed = len(sink.messages())
        if replayed != count:
            raise SystemExit(f"the ceiling run delivered {replayed} of {count}")
    print(json.dumps({"ours": ours, "smtplib": ceiling}))


def _dump_rendered(path: str) -> None:
    """The rendered messages, for post-office to send the same content."""
    from commandcenter.delivery.message import build_message
    from commandcenter.outbox.models import Email

    rendered = []
    for email in Email.objects.select_related("person", "owner").order_by("pk"):
        message = build_message(email)
        html = next((body for body, kind in message.alternatives if kind == "text/html"), "")
        rendered.append(
            {
                "from": message.from_email,
                "to": message.to,
                "subject": message.subject,
                "text": message.body,
                "html": html,
                "headers": {k: v for k, v in message.extra_headers.items() if k != "Message-ID"},
            }
        )
    Path(path).write_text(json.dumps(rendered))


def measure_post_office(messages_file: str) -> None:
    """In a child with post_office installed: queue the messages, time send_queued_mail."""
    from django.core.management import call_command
    from post_office import mail
    from post_office.models import Email as QueuedEmail

    rendered = json.loads(Path(messages_file).read_text())
    for item in rendered:
        mail.send(
            recipients=item["to"],
            sender=item["from"],
            subject=item["subject"],
            message=item["text"],
            html_message=item["html"],
            headers=item["headers"],
            priority="medium",
        )
    with _sink() as sink, _pointing_at(sink):
        started = time.perf_counter()
        call_command("send_queued_mail", processes=1, verbosity=0)
        rate = len(rendered) / (time.perf_counter() - started)
        received = len(sink.messages())
    sent = QueuedEmail.objects.filter(status=0).count()  # post_office's STATUS.sent
    if received != len(rendered) or sent != len(rendered):
        raise SystemExit(f"post-office sent {sent}, the sink got {received} of {len(rendered)}")
    print(json.dumps({"post_office": rate}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(sys.argv[1:])
