"""The wire side of the sender: a thread that hands prepared messages over, one at a time, in order.

While it waits for the mail server (a socket read releases the GIL), the main thread records
the previous outcomes and prepares the next group. The courier never touches the database:
Django's connections belong to the thread that opened them, so every write stays on the main
thread. A message is given to the courier only after its handoff stamp is committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass

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
