"""A real SMTP server on loopback for tests and benchmarks, with scripted faults.

    with SmtpSink(faults=[Fault("RCPT", "550 5.1.1 <x@example.com>: no such user",
                                addresses={"x@example.com"})]) as sink:
        ... send to sink.url ...
        sink.messages  # what the server accepted

Also `subprocess_env()`: the environment for a child `commandcenter worker` that must use
the current test database.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

STAGES = ("greeting", "MAIL", "RCPT", "DATA")
ACTIONS = ("reply", "drop", "stall")


@dataclass
class Fault:
    """One scripted misbehaviour of the sink.

    at: greeting, MAIL, RCPT or DATA. action: "reply" answers with `reply` instead of
    accepting; "drop" closes the connection without answering; "stall" answers nothing for
    `stall_seconds` (the client should time out first). `addresses`: only for these
    recipients (RCPT and DATA). `times`: how often it fires (None: always).
    """

    at: str
    reply: str = ""
    action: str = "reply"
    addresses: Iterable[str] | None = None
    times: int | None = None
    stall_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.at not in STAGES or self.action not in ACTIONS:
            raise ValueError(f"bad fault: {self}")
        if self.action == "reply" and not self.reply[:3].isdigit():
            raise ValueError(f"a reply fault needs an SMTP reply like '451 4.3.0 …': {self}")
        self.addresses = frozenset(a.lower() for a in self.addresses or ())


@dataclass
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message_id: str = field(init=False)

    def __post_init__(self) -> None:
        headers = BytesHeaderParser().parsebytes(self.raw)
        self.message_id = str(headers.get("Message-ID", "")).strip()

    def header(self, name: str) -> str:
        return str(BytesHeaderParser().parsebytes(self.raw).get(name, ""))


def free_port() -> int:
    """A port nothing listens on right now (also the way to get "connection refused")."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        outcome = await self.sink._apply_fault("MAIL", server, [])
        if outcome:
            return outcome
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        outcome = await self.sink._apply_fault("RCPT", server, [address])
        if outcome:
            return outcome
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        outcome = await self.sink._apply_fault("DATA", server, envelope.rcpt_tos)
        if outcome:
            return outcome
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        raw = envelope.original_content or b""
        with self.sink._lock:
            self.sink.messages.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw)
            )
            number = len(self.sink.messages)
        return f"250 2.0.0 Ok: queued as SINK{number}"


class _FaultySMTP(SMTP):
    """aiosmtpd's server with one more hook: a fault at the greeting."""

    def __init__(self, sink: SmtpSink, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink = sink

    async def _handle_client(self) -> None:
        self.sink.connections += 1
        outcome = await self.sink._apply_fault("greeting", self, [])
        if outcome:
            await self.push(outcome)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, port: int) -> None:
        super().__init__(_Handler(sink), hostname="127.0.0.1", port=port)
        self.sink = sink

    def factory(self) -> SMTP:
        return _FaultySMTP(self.sink, self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """aiosmtpd on 127.0.0.1 and a free port, run in a thread while the `with` block lasts.

    `delay`: seconds to wait before accepting each message (for crash tests).
    `messages`: what was accepted, in order; `connections`: how many were opened.
    """

    host = "127.0.0.1"

    def __init__(self, faults: Iterable[Fault] = (), *, delay: float = 0.0) -> None:
        self.faults = list(faults)
        self.delay = delay
        self.messages: list[Received] = []
        self.connections = 0
        self.port = free_port()
        self._lock = threading.Lock()
        self._armed = False
        self._controller = _Controller(self, self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        # The controller's own start-up probe must not count or trigger a fault.
        self.connections = 0
        self._armed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._armed = False
        self._controller.stop()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def message_ids(self) -> list[str]:
        with self._lock:
            return [message.message_id for message in self.messages]

    def _take_fault(self, stage: str, recipients: list[str]) -> Fault | None:
        if not self._armed:
            return None
        wanted = {address.lower() for address in recipients}
        with self._lock:
            for fault in self.faults:
                if fault.at != stage or fault.times == 0:
                    continue
                if fault.addresses and not (wanted & set(fault.addresses)):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    async def _apply_fault(self, stage: str, server: SMTP, recipients: list[str]) -> str | None:
        """The reply that replaces the normal one, or None to carry on."""
        fault = self._take_fault(stage, recipients)
        if fault is None:
            return None
        if fault.action == "stall":
            await asyncio.sleep(fault.stall_seconds)
            return "451 4.4.2 Sorry, I fell asleep"
        if fault.action == "drop":
            if isinstance(server.transport, asyncio.WriteTransport):
                server.transport.abort()
            # Nobody will read this: the connection is gone.
            return "421 4.4.2 Connection dropped"
        return fault.reply


def subprocess_env(**extra: object) -> dict[str, str]:
    """Environment for a child `commandcenter …` that uses the current (test) database."""
    from django.db import connection

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "commandcenter.settings"
    env["DATABASE_URL"] = database_url(connection.settings_dict)
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in extra.items()})
    return env


def database_url(config: dict[str, Any]) -> str:
    """A DATABASE_URL naming the database of a connection's settings_dict."""
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = str(config["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("a child process cannot share an in-memory SQLite database")
        return f"sqlite:///{name}"
    user = quote(str(config.get("USER") or ""), safe="")
    password = quote(str(config.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = config.get("HOST") or "localhost"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(str(config['NAME']), safe='')}"
