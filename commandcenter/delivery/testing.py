"""A real SMTP server on loopback for tests and benchmarks, with scripted faults.

    with SmtpSink(faults=[Fault("RCPT", "550 5.1.1 <x@example.com>: no such user",
                                addresses={"x@example.com"})]) as sink:
        ... send to sink.url ...
        sink.messages  # what the server accepted
        sink.received  # every message it read to the final dot, accepted or not

Also `subprocess_env()`: the environment for a child `commandcenter worker` that must use
the current test database.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# "DATA" is the DATA command (before the server's 354); "dot" is the end of the message,
# when the server has read it all and its reply says whether it takes it.
STAGES = ("greeting", "EHLO", "MAIL", "RCPT", "DATA", "dot")
ACTIONS = ("reply", "drop", "reset", "stall", "split")


@dataclass
class Fault:
    """One scripted misbehaviour of the sink.

    at: one of STAGES. action: "reply" answers with `reply` instead of accepting; "drop"
    closes the connection without answering; "reset" aborts it with a TCP RST; "stall"
    answers nothing for `stall_seconds` (the client should time out first), then 451;
    "split" (at "dot") accepts, but writes its multi-line reply in pieces, a moment apart.
    `addresses`: only for these recipients (RCPT, DATA, dot). `times`: how often it fires
    (None: always).
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
    """One message the sink read."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    mail_options: list[str] = field(default_factory=list)
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

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list[str]:
        session.host_name = hostname
        self.sink.helo_names.append(hostname)
        outcome = await self.sink._apply_fault("EHLO", server, [])
        if outcome:
            return [outcome]
        hidden = self.sink.hidden_extensions
        return [line for line in responses if line[4:].split(" ")[0].upper() not in hidden]

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
        raw = envelope.original_content or b""
        message = Received(
            str(envelope.mail_from), list(envelope.rcpt_tos), raw, list(envelope.mail_options)
        )
        with self.sink._lock:
            self.sink.received.append(message)
        if self.sink.on_message is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.sink.on_message, message)
        fault = self.sink._take_fault("dot", envelope.rcpt_tos)
        if fault is not None and fault.action != "split":
            return await self.sink._carry_out(fault, server)
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        with self.sink._lock:
            self.sink.messages.append(message)
            number = len(self.sink.messages)
        if fault is not None:
            return await _split_reply(server, number)
        return f"250 2.0.0 Ok: queued as SINK{number}"


async def _split_reply(server: SMTP, number: int) -> str:
    """A two-line 250 reply that arrives in three TCP segments; the last piece is returned
    for aiosmtpd to write."""
    pieces = [b"250-Ok, I have your mess", b"age\r\n250 2.0.0 queued", b" as SINK"]
    for piece in pieces:
        if isinstance(server.transport, asyncio.WriteTransport):
            server.transport.write(piece)
        await asyncio.sleep(0.05)
    return str(number)


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

    async def smtp_DATA(self, arg: str) -> None:
        recipients = list(self.envelope.rcpt_tos) if self.envelope is not None else []
        outcome = await self.sink._apply_fault("DATA", self, recipients)
        if outcome:
            await self.push(outcome)
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, port: int) -> None:
        super().__init__(_Handler(sink), hostname="127.0.0.1", port=port)
        self.sink = sink

    def factory(self) -> SMTP:
        return _FaultySMTP(self.sink, self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """aiosmtpd on 127.0.0.1 and a free port, run in a thread while the `with` block lasts.

    `delay`: seconds to wait before accepting each message (for crash tests).
    `messages`: what was accepted, in order; `received`: every message read to its final
    dot, accepted or not (what a recipient may get); `connections`: how many were opened;
    `helo_names`: the names clients gave in EHLO. `hidden_extensions`: EHLO keywords not
    offered (e.g. {"8BITMIME"}). `on_message`: called (in a thread) with each message read,
    before the server answers — e.g. to deliver a bounce before the sender hears "250".
    """

    host = "127.0.0.1"

    def __init__(
        self,
        faults: Iterable[Fault] = (),
        *,
        delay: float = 0.0,
        hidden_extensions: Iterable[str] = (),
        on_message: Callable[[Received], None] | None = None,
    ) -> None:
        self.faults = list(faults)
        self.delay = delay
        self.hidden_extensions = frozenset(name.upper() for name in hidden_extensions)
        self.on_message = on_message
        self.messages: list[Received] = []
        self.received: list[Received] = []
        self.helo_names: list[str] = []
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
        return await self._carry_out(fault, server)

    async def _carry_out(self, fault: Fault, server: SMTP) -> str:
        if fault.action == "stall":
            await asyncio.sleep(fault.stall_seconds)
            return "451 4.4.2 Sorry, I fell asleep"
        if fault.action in ("drop", "reset"):
            transport = server.transport
            if fault.action == "reset" and transport is not None:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    # Linger 0: close() sends a TCP RST instead of a FIN.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()
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
