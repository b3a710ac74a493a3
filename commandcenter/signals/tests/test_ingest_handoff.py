"""`commandcenter ingest` hands its message to the running worker (signals/handoff.py).

The worker's side runs here, in the test process, on the test database (the same function
`commandcenter worker` starts); the console script runs as an MTA's pipe would run it, with
settings that do not exist: it must never need them while a worker answers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from commandcenter.accounts.models import User
from commandcenter.delivery.testing import subprocess_env
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.signals import handoff
from commandcenter.signals.ingest import ingest_handed_off
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.pipe import EX_TEMPFAIL
from commandcenter.signals.tests.factories import delivered_email, dsn, verp

# The console script's entry point; then whether Django was ever imported.
INGEST = """
import json, sys
from commandcenter.cli import main
status = main(["commandcenter", "ingest", *sys.argv[1:]])
print(json.dumps({"django": "django" in sys.modules}))
sys.exit(status)
"""


def run_ingest(
    raw: bytes, socket_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", INGEST, *args],
        input=raw.decode(),
        env=subprocess_env(INGEST_SOCKET=str(socket_path), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def worker_socket(tmp_path: Path) -> Iterator[Path]:
    """The worker's hand-off listener on a socket of this test."""
    path = tmp_path / "ingest.sock"
    server = handoff.listen(path, ingest_handed_off)
    assert server is not None
    yield path
    handoff.stop(server, path)


@pytest.mark.django_db(transaction=True)
def test_the_worker_applies_a_bounce_and_ingest_never_sets_django_up(
    alice: User, worker_socket: Path
) -> None:
    email = delivered_email(alice)

    done = run_ingest(
        dsn(email), worker_socket, "--recipient", verp(email), DJANGO_SETTINGS_MODULE="no.such"
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == f"bounce: {email.pk}"
    assert json.loads(lines[-1]) == {"django": False}
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert InboundMessage.objects.get().envelope_recipient == verp(email)


@pytest.mark.django_db(transaction=True)
def test_a_message_handed_over_twice_is_applied_once(alice: User, worker_socket: Path) -> None:
    """What an MTA does after an `ingest` that gave up waiting: deliver it again."""
    email = delivered_email(alice)
    first = run_ingest(dsn(email), worker_socket, "--recipient", verp(email))
    again = run_ingest(dsn(email), worker_socket, "--recipient", verp(email))

    assert first.stdout.splitlines()[0] == f"bounce: {email.pk}"
    assert again.returncode == 0
    assert again.stdout.splitlines()[0] == f"bounce: {email.pk} (seen before)"
    assert Email.objects.get(pk=email.pk).events.filter(to_status=Status.BOUNCED).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("where", ["no socket", "a stale socket"])
def test_with_no_worker_listening_ingest_does_it_itself(
    alice: User, tmp_path: Path, where: str
) -> None:
    path = tmp_path / "ingest.sock"
    if where == "a stale socket":
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(str(path))  # a worker killed without cleaning up: nobody accepts
        dead.close()
    email = delivered_email(alice)

    done = run_ingest(dsn(email), path, "--recipient", verp(email))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"bounce: {email.pk}"
    assert json.loads(done.stdout.splitlines()[-1]) == {"django": True}
    assert Email.objects.get(pk=email.pk).status == Status.BOUNCED


def silent_worker(path: Path, received: list[bytes]) -> socket.socket:
    """A listener that reads the whole hand-off and hangs up without an answer."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def serve() -> None:
        connection, _ = server.accept()
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
        received.append(data)
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_worker_that_hangs_up_makes_ingest_exit_75_and_not_apply_it_itself(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ingest.sock"
    received: list[bytes] = []
    server = silent_worker(path, received)
    try:
        done = run_ingest(b"Subject: hello\r\n\r\nbody\r\n", path, DJANGO_SETTINGS_MODULE="no.such")
    finally:
        server.close()

    assert done.returncode == EX_TEMPFAIL
    assert "hung up without an answer" in done.stderr
    assert "the mail server keeps the message and tries again" in done.stderr
    # It was handed over (the worker may have stored it): never applied here a second time.
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"django": False}
    header, _, body = received[0].partition(b"\n")
    assert json.loads(header)["length"] == len(body) == len(b"Subject: hello\r\n\r\nbody\r\n")


@pytest.mark.django_db(transaction=True)
def test_a_failure_in_the_worker_defers_the_message(tmp_path: Path) -> None:
    def broken(raw: bytes, envelope: handoff.Envelope) -> handoff.Outcome:
        raise RuntimeError("the disk is full")

    path = tmp_path / "ingest.sock"
    server = handoff.listen(path, broken)
    assert server is not None
    try:
        done = run_ingest(b"Subject: x\r\n\r\ny\r\n", path)
    finally:
        handoff.stop(server, path)

    assert done.returncode == EX_TEMPFAIL
    assert "RuntimeError: the disk is full" in done.stderr


def test_a_second_worker_leaves_the_socket_to_the_first(tmp_path: Path) -> None:
    path = tmp_path / "ingest.sock"
    first = handoff.listen(path, lambda raw, envelope: handoff.Outcome(0, "first"))
    assert first is not None
    try:
        assert handoff.listen(path, lambda raw, envelope: handoff.Outcome(0, "second")) is None
        answer = handoff.hand_off(b"x", handoff.Envelope(), path)
        assert answer == handoff.Outcome(0, "first")
        assert oct(path.stat().st_mode & 0o777) == "0o660"
    finally:
        handoff.stop(first, path)
    assert not path.exists()


def test_a_garbled_hand_off_gets_a_deferral_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "ingest.sock"
    server = handoff.listen(path, lambda raw, envelope: handoff.Outcome(0, "applied"))
    assert server is not None
    try:
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(path))
        raw.sendall(b'{"length": 10}\nshort')
        raw.shutdown(socket.SHUT_WR)
        answer = json.loads(raw.makefile("rb").readline())
        raw.close()
    finally:
        handoff.stop(server, path)
    assert answer["status"] == EX_TEMPFAIL
    assert "cut short" in answer["stderr"]
