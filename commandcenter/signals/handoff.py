"""`commandcenter ingest` hands its message to the running worker instead of starting Django.

An MTA's pipe starts one `ingest` per inbound message. Setting Django up and importing the
models costs several times the interpreter's own start-up (make bench BENCH_ARGS=startup), so
the worker (`commandcenter worker`, also started by `serve`) listens on a Unix socket
(INGEST_SOCKET, var/ingest.sock unless set; empty turns it off) and applies what `ingest`
sends it, with the same function the in-process command uses. `ingest` then prints the
worker's answer and exits with its status. When no worker listens (no socket, a stale one,
a refused connection), `ingest` does the work itself, as before: slower, never different.

Nothing is lost in between: `ingest` exits 0 only on the worker's answer that the message
is stored. A worker that dies or goes silent before answering makes `ingest` exit 75, and
the MTA delivers the message again later; had the worker stored it after all, the second
delivery is recognised as seen before (signals/apply.py) and changes nothing.

This module imports nothing of Django: the client side is the whole start-up of `ingest`.
The wire format, one request per connection: a JSON line {"sender", "recipient", "source",
"length"}, then `length` bytes of message; the answer is one JSON line {"status", "stdout",
"stderr"}.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import stat
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from commandcenter.lib.paths import var_dir
from commandcenter.signals.pipe import EX_TEMPFAIL, deferral_line

# Larger messages are applied in-process: no MTA hands a pipe anything near this.
MAX_HANDOFF_BYTES = 64 * 1024 * 1024
CONNECT_SECONDS = 2.0
# A message that is being applied (a database waiting on a lock) may take a while.
ANSWER_SECONDS = 120.0
MAX_HEADER_BYTES = 64 * 1024


def socket_path() -> Path | None:
    """The hand-off socket: INGEST_SOCKET, var/ingest.sock unless set, None when set empty."""
    configured = os.environ.get("INGEST_SOCKET")
    if configured is None:
        return var_dir() / "ingest.sock"
    return Path(configured) if configured.strip() else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ingest`, one definition for the command and for the hand-off client."""
    parser.add_argument("--sender", default="", help="The envelope sender (MAIL FROM).")
    parser.add_argument(
        "--recipient", default="", help="The envelope recipient (the VERP address)."
    )
    parser.add_argument("--source", default="stdin", help="Where it came from, for the record.")


@dataclass(frozen=True)
class Outcome:
    """What `ingest` prints and the status it exits with."""

    status: int
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Envelope:
    sender: str = ""
    recipient: str = ""
    source: str = "stdin"


Applier = Callable[[bytes, Envelope], Outcome]


# -- the client: `commandcenter ingest` -----------------------------------------------------


def hand_off(raw: bytes, envelope: Envelope, path: Path | None) -> Outcome | None:
    """The worker's outcome for this message; None when no worker listens (do it here)."""
    if path is None or len(raw) > MAX_HANDOFF_BYTES:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(CONNECT_SECONDS)
        try:
            connection.connect(str(path))
        except OSError:
            return None  # no socket, a stale one, or no permission: nobody to hand it to
        # From here on the worker may have the message: never apply it a second time here.
        connection.settimeout(ANSWER_SECONDS)
        try:
            header = {**envelope.__dict__, "length": len(raw)}
            connection.sendall(json.dumps(header).encode() + b"\n" + raw)
            connection.shutdown(socket.SHUT_WR)
            answer = _read_line(connection)
        except OSError as error:
            return _no_answer(f"the worker did not answer ({error})")
        return _outcome(answer)
    finally:
        connection.close()


def _outcome(answer: bytes) -> Outcome:
    try:
        data = json.loads(answer)
        status = int(data["status"])
        return Outcome(status, str(data.get("stdout", "")), str(data.get("stderr", "")))
    except (ValueError, KeyError, TypeError):
        return _no_answer("the worker hung up without an answer")


def _no_answer(what: str) -> Outcome:
    return Outcome(EX_TEMPFAIL, stderr=deferral_line(what))


def _read_line(connection: socket.socket, limit: int = MAX_HEADER_BYTES) -> bytes:
    data = bytearray()
    while b"\n" not in data and len(data) <= limit:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data.partition(b"\n")[0])


# -- the server: inside `commandcenter worker` ----------------------------------------------


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            header = json.loads(self.rfile.readline(MAX_HEADER_BYTES))
            length = int(header["length"])
            if not 0 <= length <= MAX_HANDOFF_BYTES:
                raise ValueError(f"a message of {length} bytes")
            raw = self.rfile.read(length)
            if len(raw) != length:
                raise ValueError("the message was cut short")
            envelope = Envelope(
                str(header.get("sender", "")),
                str(header.get("recipient", "")),
                str(header.get("source", "stdin")),
            )
        except (ValueError, KeyError, TypeError) as error:
            self._answer(_no_answer(f"a hand-off the worker could not read: {error}"))
            return
        try:
            outcome = self.server.apply(raw, envelope)
        except Exception as error:  # noqa: BLE001 - like the pipe's guard: defer, never bounce
            outcome = _no_answer(f"{type(error).__name__}: {error}")
        self._answer(outcome)

    def _answer(self, outcome: Outcome) -> None:
        with suppress(OSError):  # an `ingest` that gave up: the MTA delivers it again
            self.wfile.write(json.dumps(outcome.__dict__).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, apply: Applier) -> None:
        self.apply = apply
        super().__init__(str(path), _Handler)


def listen(path: Path, apply: Applier) -> _Server | None:
    """Serve hand-offs on `path` in background threads; None when another process already
    does (several workers side by side: the first one listens)."""
    if _someone_listens(path):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()  # left by a worker that was killed
    server = _Server(path, apply)
    # The MTA's pipe may run as another user of the app's group (docs/inbound.md).
    path.chmod(0o660)
    threading.Thread(target=server.serve_forever, name="ingest-handoff", daemon=True).start()
    return server


def stop(server: _Server, path: Path) -> None:
    server.shutdown()
    server.server_close()
    with suppress(FileNotFoundError):
        path.unlink()


def _someone_listens(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(CONNECT_SECONDS)
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
