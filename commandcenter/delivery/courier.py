"""The wire side of the sender: a thread that hands prepared messages over, one at a time, in order.

While it waits for the mail server (a socket read releases the GIL), the main thread records
the previous outcomes and prepares the next group. The courier never touches the database:
Django's connections belong to the thread that opened them, so every write stays on the main
thread. A message is given to the courier only after its handoff stamp is committed.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from django.core.mail import EmailMessage

from commandcenter.delivery.transport import DeliveryError, Outgoing, Receipt, Transport
from commandcenter.outbox.models import Email


@dataclass
class Handover:
    """One email whose handoff is recorded, with the message that goes out for it."""

    email: Email
    message_id: str
    outgoing: Outgoing


@dataclass
class Outcome:
    """What the server said: a receipt when it accepted the message, otherwise the error."""

    handover: Handover
    receipt: Receipt | None = None
    error: DeliveryError | None = None


class Courier:
    """The courier thread of one batch. Use as a context manager: on exit it finishes what it
    was given (or, when the batch broke off with an exception, sends nothing more) and stops."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        # Given to the thread, outcome not yet collected by the main thread.
        self.in_flight = 0
        self._todo: queue.SimpleQueue[Handover | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Outcome | BaseException] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="courier", daemon=True)
        self._thread.start()

    def __enter__(self) -> Courier:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is not None:
            # The outcomes can no longer be recorded: stop handing over. What is left stays
            # In Progress with its handoff stamp, and recovery files it as "delivery unknown".
            self._abandoned.set()
        self._todo.put(None)
        self._thread.join()

    @property
    def idle(self) -> bool:
        """True when the thread has nothing to do, so the main thread may use the transport."""
        return self.in_flight == 0

    def reach(self) -> DeliveryError | None:
        """Why the server cannot be reached, or None: connects if the courier is not busy."""
        if self.transport.unreachable is not None or not self.idle:
            # Busy: the courier reconnects by itself when it needs to.
            return self.transport.unreachable
        try:
            self.transport.connect()
        except DeliveryError as error:
            return error
        return None

    def send(self, handovers: Iterable[Handover]) -> None:
        for handover in handovers:
            self._todo.put(handover)
            self.in_flight += 1

    def collect(self, *, leave: int | None = None) -> list[Outcome]:
        """The outcomes that are ready; with `leave`, first wait until no more than that many
        are still in flight. Re-raises an unexpected error of the thread."""
        outcomes: list[Outcome] = []
        while True:
            wait = leave is not None and self.in_flight - len(outcomes) > leave
            try:
                item = self._done.get(block=wait)
            except queue.Empty:
                break
            if isinstance(item, BaseException):
                self.in_flight -= len(outcomes)
                raise item
            outcomes.append(item)
        self.in_flight -= len(outcomes)
        return outcomes

    def _run(self) -> None:
        try:
            while (handover := self._todo.get()) is not None:
                if not self._abandoned.is_set():
                    self._done.put(self._hand_over(handover))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which raises it
            self._done.put(error)

    def _hand_over(self, handover: Handover) -> Outcome:
        try:
            # Reconnects after a dropped connection; raises at once when the server was found
            # unreachable earlier in the batch, so the rest is deferred without a timeout each.
            self.transport.connect()
            return Outcome(handover, receipt=self.transport.send(handover.outgoing))
        except DeliveryError as error:
            return Outcome(handover, error=error)


class ProcessCourier:
    """The courier of one batch as a forked child process, for SMTP.

    Same contract as Courier, but the SMTP conversation runs outside this interpreter: the
    main thread's rendering and recording then never hold up the replies of the mail server
    (in a thread they share one GIL, and each of the four replies of every message waits
    for it). The child holds the batch's connection, gets the envelopes and bytes of a
    group's messages through a pipe and answers each, in order, with the server's reply or
    the error (a group's answers in one write). It never touches the database. When this
    process dies, the child stops before its next message.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._in_flight: collections.deque[Handover] = collections.deque()
        # Answers read from the pipe (the child sends those of a group together), not yet
        # matched with their handovers.
        self._answers: collections.deque[Any] = collections.deque()
        self._pipe, child_end = multiprocessing.Pipe()
        context = multiprocessing.get_context("fork")
        self._child = context.Process(
            target=_serve_smtp,
            args=(child_end, self._pipe, os.getpid()),
            name="courier",
            daemon=True,
        )
        self._child.start()
        child_end.close()

    def __enter__(self) -> ProcessCourier:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is not None:
            # The outcomes can no longer be recorded: stop handing over at once. What was
            # given to it stays In Progress with its handoff stamp ("delivery unknown").
            self._child.kill()
            self._child.join()
        else:
            with contextlib.suppress(OSError):  # it stopped already: collect() said why
                self._pipe.send(None)
            # Every outcome is in (collect(leave=0)); it only says goodbye to the server and
            # exits. Not waiting for that saves a few milliseconds a batch: multiprocessing
            # reaps it when the next courier starts, or at exit.
        self._pipe.close()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def idle(self) -> bool:
        return not self._in_flight

    def reach(self) -> DeliveryError | None:
        """Why the server cannot be reached, or None: connects if the courier is not busy."""
        if self.transport.unreachable is not None or not self.idle:
            # Busy: the child reconnects by itself when it needs to.
            return self.transport.unreachable
        self._pipe.send(CONNECT)
        error = self._answer()
        return error if isinstance(error, DeliveryError) else None

    def send(self, handovers: Iterable[Handover]) -> None:
        group = list(handovers)
        if not group:
            return
        # One write for the group: each write to a child waiting on the pipe wakes it, and
        # on a busy machine the wake-up costs this process its core.
        self._pipe.send(
            [(h.outgoing.sender, h.outgoing.recipients, h.outgoing.data) for h in group]
        )
        self._in_flight.extend(group)

    def collect(self, *, leave: int | None = None) -> list[Outcome]:
        """The outcomes that are ready; with `leave`, first wait until no more than that many
        are still in flight."""
        outcomes: list[Outcome] = []
        while self._in_flight:
            wait = leave is not None and len(self._in_flight) > leave
            if not wait and not self._answers and not self._pipe.poll():
                break
            answer = self._answer()
            handover = self._in_flight.popleft()
            if isinstance(answer, DeliveryError):
                outcomes.append(Outcome(handover, error=answer))
            else:
                outcomes.append(Outcome(handover, receipt=Receipt(answer)))
        return outcomes

    def _answer(self) -> Any:
        """The next answer: None or the reply data where it went well, else the error."""
        if not self._answers:
            try:
                answers = self._pipe.recv()
            except EOFError:
                raise RuntimeError("the courier process stopped unexpectedly") from None
            if isinstance(answers, tuple) and answers[:1] == (CRASHED,):
                raise RuntimeError(f"the courier process failed: {answers[1]}")
            self._answers.extend(answers)
        answer = self._answers.popleft()
        if isinstance(answer, tuple):
            text, permanent, connection_lost, unknown, unreachable = answer
            error = DeliveryError(
                text, permanent=permanent, connection_lost=connection_lost, unknown=unknown
            )
            if unreachable:
                # As a courier thread shares it: the next groups are deferred at once.
                self.transport.unreachable = error
            return error
        return answer


# Requests to the child besides a group of messages, a list of (sender, recipients, data);
# None ends it. The child answers each request with a list: an answer for each message.
CONNECT = "connect"
CRASHED = "crashed"


def _serve_smtp(pipe: Connection, parents_end: Connection, parent: int) -> None:
    """The child: one SMTP connection (its own, opened here) for the batch's messages."""
    # Forked with both ends: without closing the parent's, a dead parent would never be seen.
    parents_end.close()
    answers: list[Any] = []
    try:
        with Transport() as transport:
            while (request := pipe.recv()) is not None:
                for each in request if isinstance(request, list) else [request]:
                    if os.getppid() != parent:
                        # The worker died (SIGKILL): hand nothing more over.
                        return
                    answers.append(_carry_out(transport, each))
                # The answers of a group in one write: the parent needs them all before it
                # goes on, and each write to it wakes it up.
                pipe.send(answers)
                answers = []
    except EOFError:
        return
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it
        with contextlib.suppress(OSError):
            if answers:
                pipe.send(answers)  # what the server said to the group so far
            pipe.send((CRASHED, f"{type(error).__name__}: {error}"))


def _carry_out(transport: Transport, request: Any) -> Any:
    """None or the server's reply data when it went well; the error as a plain tuple, with
    whether it made the server unreachable for the rest of the batch."""
    try:
        transport.connect()
        if request == CONNECT:
            return None
        sender, recipients, data = request
        return transport.send(Outgoing(EmailMessage(), sender, recipients, data)).data
    except DeliveryError as error:
        unreachable = transport.unreachable is error
        return (error.text, error.permanent, error.connection_lost, error.unknown, unreachable)


AnyCourier = Courier | ProcessCourier


def courier_for(transport: Transport) -> AnyCourier:
    """A courier process for SMTP; a thread for other backends (an ESP's HTTP API, locmem),
    whose state must stay in this process."""
    return ProcessCourier(transport) if transport.is_smtp else Courier(transport)
