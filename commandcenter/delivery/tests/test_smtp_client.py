"""Speaking SMTP as a careful client: the EHLO name, BODY=8BITMIME, SMTPUTF8, dot-stuffing."""

from __future__ import annotations

import email as email_lib
import smtplib
from email.policy import default

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.models import SentMessage
from commandcenter.delivery.sender import Sender
from commandcenter.delivery.testing import SmtpSink
from commandcenter.delivery.tests.helpers import point_at, scheduled_email
from commandcenter.delivery.transport import (
    DeliveryError,
    dot_stuffed,
    smtp_path,
    smtp_transaction,
)
from commandcenter.lib.config import helo_name
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status

pytestmark = pytest.mark.django_db

ACCENTED = "Grüße aus Köln, señor — ça va?"


def test_it_greets_the_server_with_the_configured_name(
    alice: User, sink: SmtpSink, settings: SettingsWrapper
) -> None:
    settings.EMAIL_HELO_NAME = "cc.example.com"
    scheduled_email(alice)

    Sender("test-worker").drain()

    assert sink.helo_names == ["cc.example.com"]


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://cc.example.com", "cc.example.com"),
        ("http://192.0.2.10:8000", "[192.0.2.10]"),
        ("http://[2001:db8::1]:8000", "[IPv6:2001:db8::1]"),
    ],
)
def test_the_default_name_comes_from_public_url(public_url: str, expected: str) -> None:
    assert helo_name(public_url) == expected


def test_the_default_name_is_never_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.getfqdn", lambda: "localhost")
    assert helo_name("http://localhost:8000") == "[127.0.0.1]"
    monkeypatch.setattr("socket.getfqdn", lambda: "box.example.net")
    assert helo_name("http://localhost:8000") == "box.example.net"


def test_a_bad_helo_name_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("EMAIL_HELO_NAME", "not a name")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_HELO_NAME"):
        helo_name("http://127.0.0.1:8000")


def test_an_8bit_body_is_declared_as_8bitmime(alice: User, sink: SmtpSink) -> None:
    email = scheduled_email(alice, body_text=ACCENTED)

    Sender("test-worker").drain()

    [received] = sink.messages
    assert not received.raw.isascii()
    assert "BODY=8BITMIME" in received.mail_options
    assert "SMTPUTF8" not in received.mail_options
    assert _text_of(received.raw) == ACCENTED
    assert Email.objects.get(pk=email.pk).status == Status.DELIVERED


def test_an_ascii_message_declares_nothing(alice: User, sink: SmtpSink) -> None:
    scheduled_email(alice, body_text="Plain words only.")

    Sender("test-worker").drain()

    [received] = sink.messages
    assert received.raw.isascii()
    assert not any(o.upper().startswith(("BODY=", "SMTPUTF8")) for o in received.mail_options)


def test_a_server_without_8bitmime_gets_a_7bit_message(
    alice: User, settings: SettingsWrapper
) -> None:
    with SmtpSink(hidden_extensions={"8BITMIME"}) as old_server:
        point_at(settings, old_server.port)
        email = scheduled_email(alice, body_text=ACCENTED)

        Sender("test-worker").drain()

    [received] = old_server.messages
    assert received.raw.isascii()
    assert not any(o.upper().startswith("BODY=") for o in received.mail_options)
    assert b"quoted-printable" in received.raw.lower()
    assert _text_of(received.raw) == ACCENTED
    # "Show original" shows what this server got, not the 8-bit message it was made from.
    kept = SentMessage.objects.get(email=email)
    assert kept.raw.rstrip(b"\r\n") == received.raw.rstrip(b"\r\n")


def test_smtputf8_only_for_an_address_that_needs_it(sink: SmtpSink) -> None:
    with smtplib.SMTP(sink.host, sink.port, local_hostname="cc.example.com") as connection:
        smtp_transaction(connection, "bounce@example.com", ["josé@example.org"], b"Hi\r\n")
        smtp_transaction(connection, "bounce@example.com", ["jose@example.org"], b"Hi\r\n")

    international, plain = sink.messages
    assert "SMTPUTF8" in [o.upper() for o in international.mail_options]
    assert international.rcpt_tos == ["josé@example.org"]
    assert "SMTPUTF8" not in [o.upper() for o in plain.mail_options]


def test_a_server_without_smtputf8_refuses_an_international_address_before_data() -> None:
    with (
        SmtpSink(hidden_extensions={"SMTPUTF8"}) as server,
        smtplib.SMTP(server.host, server.port, local_hostname="cc.example.com") as connection,
        pytest.raises(DeliveryError, match="SMTPUTF8") as refused,
    ):
        smtp_transaction(connection, "bounce@example.com", ["josé@example.org"], b"Hi\r\n")
    assert refused.value.permanent
    assert server.received == []


@pytest.mark.django_db(False)
@pytest.mark.parametrize(
    "address",
    [
        "carol@example.org",
        "bounce+Ab-_9x@bounces.localhost",
        "o'hara.x!#$%&*/=?^`{|}~@Sub-Domain.EXAMPLE.com",
        "josé@example.org",
        '"quoted local"@example.org',
        "",
    ],
)
def test_it_writes_the_envelope_paths_as_smtplib_does(address: str) -> None:
    assert smtp_path(address) == smtplib.quoteaddr(address)


def test_lines_that_start_with_a_dot_arrive_intact(alice: User, sink: SmtpSink) -> None:
    body = "Agenda:\n.hidden line\n..two dots\n.\nend"
    scheduled_email(alice, body_text=body)

    Sender("test-worker").drain()

    [received] = sink.messages
    assert _text_of(received.raw) == body


def test_dot_stuffing_ends_with_one_terminator() -> None:
    assert dot_stuffed(b"a\n.b\r\n") == b"a\r\n..b\r\n.\r\n"
    assert dot_stuffed(b"no newline") == b"no newline\r\n.\r\n"


def _text_of(raw: bytes) -> str:
    message = email_lib.message_from_bytes(raw, policy=default)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n").rstrip("\n")
