"""The point of no return for an ESP's HTTP API (django-anymail's Postmark backend against a real
HTTP server on loopback that plays the ESP): once the request was sent, no answer means
delivery unknown; a request that never got through is tried again."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import free_port
from commandcenter.delivery.tests.helpers import scheduled_email
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status

pytestmark = pytest.mark.django_db

POSTMARK_OK = {
    "To": "carol@example.org",
    "SubmittedAt": "2026-12-01T09:00:00.0000000Z",
    "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
    "ErrorCode": 0,
    "Message": "OK",
}


class FakeEspServer:
    """An HTTP server that reads each whole request, then answers as `behaviour` says:
    "ok" (Postmark's success JSON), "close" (hangs up without a word) or "stall"."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeEspServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            self.requests.append(request)
            if self.behaviour == "stall":
                time.sleep(5)
            elif self.behaviour == "ok":
                body = json.dumps(POSTMARK_OK).encode()
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )


def _read_request(client: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    length = lengths[0] if lengths else 0
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


PointAt = Callable[[int], None]


@pytest.fixture
def postmark_at(settings: SettingsWrapper) -> PointAt:
    def point(port: int) -> None:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {
            "POSTMARK_SERVER_TOKEN": "test-token",
            "POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
            "REQUESTS_TIMEOUT": 1,
        }

    return point


def run_worker_passes(times: int = 4) -> None:
    for _ in range(times):
        Email.objects.filter(status=Status.SCHEDULED).update(due_at=timezone.now())
        Sender("test-worker").drain()


@pytest.mark.parametrize("behaviour", ["close", "stall"])
def test_no_answer_after_the_request_is_delivery_unknown(
    alice: User, postmark_at: PointAt, behaviour: str
) -> None:
    with FakeEspServer(behaviour) as esp:
        postmark_at(esp.port)
        email = scheduled_email(alice)

        run_worker_passes()

    email.refresh_from_db()
    assert len(esp.requests) == 1
    assert b"carol@example.org" in esp.requests[0]
    assert email.status == Status.FAILED
    assert email.reason.startswith("delivery unknown: the ESP's API received the request")


def test_an_esp_that_cannot_be_reached_is_tried_again(alice: User, postmark_at: PointAt) -> None:
    postmark_at(free_port())
    email = scheduled_email(alice)

    Sender("test-worker").drain()

    email.refresh_from_db()
    assert email.status == Status.SCHEDULED
    assert "will retry at" in email.reason


def test_an_esp_that_answers_delivers(alice: User, postmark_at: PointAt) -> None:
    with FakeEspServer("ok") as esp:
        postmark_at(esp.port)
        email = scheduled_email(alice)

        Sender("test-worker").drain()

    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    assert len(esp.requests) == 1
