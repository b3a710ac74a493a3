"""One connection to the mail server for a batch, and what a refusal or a failure means.

Django's email backend (chosen by EMAIL_URL) opens the connection. For SMTP we run the
MAIL / RCPT / DATA transaction ourselves on that connection, so that every reply carries the
stage it came at and the server's final "250 … queued as …" can be kept with the email.
Any other backend (django-anymail ESPs, locmem, console) sends through `send_messages`.

The SMTP transaction has a point of no return: the final "." of DATA. Before it, any failure
means the server does not have the message (RFC 5321 §4.1.1.4: no message without the dot),
so it may be tried again. After it, the server has read the whole message and only its reply
says whether it took responsibility for it: an explicit 4xx or 5xx reply is a refusal, but a
connection that drops or a reply that does not come means *delivery unknown* — the message
may be on its way, and sending it again could deliver it twice. The same holds for an ESP's
HTTP API once the request was sent and the answer did not come.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass, field
from email import message_from_bytes
from email.encoders import encode_quopri
from email.generator import BytesGenerator
from email.policy import compat32
from io import BytesIO
from typing import Any

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from urllib3.exceptions import NewConnectionError

from commandcenter.delivery.mime import message_bytes

# HTTP statuses from an ESP that mean "try again later" rather than "this message is bad".
TRANSIENT_HTTP = frozenset({408, 429})
# An ASCII addr-spec with a dot-atom local part and LDH domain labels: what Django's
# sanitize_address returns unchanged (it parses every address, which is slow).
PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\Z"
)


class DeliveryError(Exception):
    """The mail server (or ESP) did not say it took the email.

    `permanent`: retrying cannot help (a 5xx reply). `connection_lost`: the connection is
    gone or unusable, so the next email needs a new one. `unknown`: the failure came after
    the point of no return (the server had read the whole message): it may have been
    delivered, so it must never be sent again automatically.
    """

    def __init__(
        self,
        text: str,
        *,
        permanent: bool = False,
        connection_lost: bool = False,
        unknown: bool = False,
    ):
        super().__init__(text)
        self.text = text
        self.permanent = permanent
        self.connection_lost = connection_lost
        self.unknown = unknown


@dataclass
class Outgoing:
    """A message ready to go: for SMTP, its envelope and bytes, made before the handoff so
    that a message that cannot be serialized fails before anything was handed over."""

    message: EmailMessage
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    data: bytes = b""


# In a Receipt's data: the server took the message made 7-bit (it offers no 8BITMIME).
SEVEN_BIT = "made_7bit"


@dataclass
class Receipt:
    """What the server said when it accepted the email: kept in the "sent" Event."""

    data: dict[str, Any] = field(default_factory=dict)


def envelope_address(address: str, encoding: str) -> str:
    """The address for MAIL FROM / RCPT TO, as sanitize_address gives it (and refuses it:
    ValueError or UnicodeError)."""
    if PLAIN_ADDRESS.match(address):
        return address
    return sanitize_address(address, encoding)


def refusal(code: int, reply: bytes | str, stage: str) -> DeliveryError:
    text = reply if isinstance(reply, str) else reply.decode("utf-8", "replace")
    text = " ".join(text.split())
    return DeliveryError(
        f"{code} {text} (at {stage})",
        permanent=500 <= code < 600,
        # 421: the server is closing the connection.
        connection_lost=code == 421,
    )


def server_name() -> str:
    return f"{getattr(settings, 'EMAIL_HOST', '?')}:{getattr(settings, 'EMAIL_PORT', '?')}"


def connection_problem(error: BaseException) -> DeliveryError:
    """A refused, dropped or stalled connection before the end of DATA: worth another try."""
    host = server_name()
    if isinstance(error, smtplib.SMTPConnectError):
        return refusal(error.smtp_code, error.smtp_error, "greeting")
    if isinstance(error, smtplib.SMTPResponseException):
        # Before any email was handed over (AUTH, STARTTLS): about the server, not the email.
        problem = refusal(error.smtp_code, error.smtp_error, "connecting")
        return DeliveryError(problem.text, connection_lost=True)
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(
        error.__context__, TimeoutError
    ):
        # smtplib reports a read that timed out as a disconnection.
        error = error.__context__
    if isinstance(error, ConnectionRefusedError):
        text = f"connection refused by the mail server at {host}"
    elif isinstance(error, TimeoutError):
        text = f"the mail server at {host} did not answer in time"
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        text = f"the mail server at {host} closed the connection ({error})"
    else:
        text = f"could not talk to the mail server at {host}: {type(error).__name__}: {error}"
    return DeliveryError(text, connection_lost=True)


def lost_after_the_message(error: BaseException) -> DeliveryError:
    """Trouble after the server read the whole message: delivery unknown."""
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(
        error.__context__, TimeoutError
    ):
        error = error.__context__
    if isinstance(error, TimeoutError):
        what = "did not answer in time"
    elif isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError):
        what = "closed the connection"
    else:
        what = f"failed ({type(error).__name__}: {error})"
    return DeliveryError(
        f"the mail server at {server_name()} read the whole message, then {what} before "
        "saying whether it accepted it",
        connection_lost=True,
        unknown=True,
    )


def esp_problem(error: AnymailError) -> DeliveryError:
    if isinstance(error, AnymailRecipientsRefused):
        return DeliveryError(str(error), permanent=True)
    status = getattr(error, "status_code", None)
    if isinstance(error, AnymailAPIError) and status is None and request_was_sent(error):
        # The API request went out and no answer came back: the ESP may have taken it.
        return DeliveryError(
            f"the ESP's API received the request, then gave no answer: {error}", unknown=True
        )
    transient = isinstance(error, AnymailAPIError) and (
        status is None or status >= 500 or status in TRANSIENT_HTTP
    )
    return DeliveryError(str(error), permanent=not transient)


def request_was_sent(error: BaseException) -> bool:
    """Did the HTTP request behind an ESP error reach the ESP? Only a failure to connect
    (refused, no route, name not found, connect timeout) proves that it did not."""
    cause = error.__cause__
    if not isinstance(cause, requests.RequestException):
        return False
    if isinstance(cause, requests.ConnectTimeout):
        return False
    if isinstance(cause, requests.ConnectionError):
        # requests wraps urllib3's MaxRetryError, whose reason says what went wrong.
        inner = cause.args[0] if cause.args else None
        reason = getattr(inner, "reason", inner)
        return not isinstance(reason, NewConnectionError)
    return True


class Transport:
    """The connection of one batch. Use as a context manager; it closes on exit."""

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.is_smtp = isinstance(self.backend, SmtpBackend)
        # Set when connecting failed: the server is unreachable for the rest of the batch,
        # so the other emails are deferred at once instead of each waiting for a timeout.
        self.unreachable: DeliveryError | None = None

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Make sure a connection is open; DeliveryError when the server cannot be reached."""
        if self.unreachable is not None:
            raise self.unreachable
        try:
            self.backend.open()
        except (OSError, AnymailError) as error:
            self.drop()
            self.unreachable = (
                esp_problem(error) if isinstance(error, AnymailError) else connection_problem(error)
            )
            raise self.unreachable from error

    def prepare(self, message: EmailMessage) -> Outgoing:
        """Serialize the message; ValueError (or UnicodeError) when it cannot be."""
        if not self.is_smtp:
            # The backend serializes it itself (for an ESP: into its API's JSON).
            return Outgoing(message)
        encoding = message.encoding or settings.DEFAULT_CHARSET
        return Outgoing(
            message,
            sender=envelope_address(message.from_email, encoding),
            recipients=[envelope_address(address, encoding) for address in message.recipients()],
            data=message_bytes(message),
        )

    def send(self, outgoing: Outgoing) -> Receipt:
        """Hand one message over; DeliveryError when it was not accepted."""
        try:
            if self.is_smtp:
                return self._send_smtp(outgoing)
            return self._send_through_backend(outgoing.message)
        except DeliveryError as error:
            if error.connection_lost:
                self.drop()
            raise

    def _send_smtp(self, outgoing: Outgoing) -> Receipt:
        assert isinstance(self.backend, SmtpBackend)
        connection = self.backend.connection
        if connection is None:
            raise DeliveryError("not connected to the mail server", connection_lost=True)
        try:
            reply = smtp_transaction(
                connection, outgoing.sender, outgoing.recipients, outgoing.data
            )
        except DeliveryError as error:
            if not error.connection_lost:
                self._reset(connection)
            raise
        except OSError as error:  # smtplib's exceptions are OSErrors too
            raise connection_problem(error) from error
        # The server that took it, for the rep's timeline ("accepted by mail.example.com").
        receipt = Receipt({"smtp_reply": reply, "smtp_server": str(self.backend.host)})
        if needs_seven_bit(connection, outgoing.data):
            # It got other bytes than the copy kept at the handoff: see copies.keep_as_sent.
            receipt.data[SEVEN_BIT] = True
        return receipt

    def _send_through_backend(self, message: EmailMessage) -> Receipt:
        try:
            self.backend.send_messages([message])
        except AnymailError as error:
            raise esp_problem(error) from error
        except OSError as error:
            raise connection_problem(error) from error
        status = getattr(message, "anymail_status", None)
        if status is None:
            return Receipt()
        return Receipt(
            {
                "anymail_status": {
                    "message_id": _json_safe(status.message_id),
                    "status": sorted(status.status or []),
                }
            }
        )

    def _reset(self, connection: smtplib.SMTP) -> None:
        """After a refused email, RSET so the connection can carry the next one."""
        try:
            connection.rset()
        except OSError:
            self.drop()

    def drop(self) -> None:
        """Forget a broken connection without talking to the server again."""
        if not isinstance(self.backend, SmtpBackend):
            return
        connection, self.backend.connection = self.backend.connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        try:
            self.backend.close()
        except (OSError, AnymailError):
            # Saying goodbye failed; every email of the batch is already recorded.
            self.drop()


def smtp_transaction(
    connection: smtplib.SMTP, sender: str, recipients: list[str], data: bytes
) -> str:
    """MAIL FROM, RCPT TO, DATA on an open connection; the server's final reply.

    A refusal raises DeliveryError naming the stage; a broken connection before the end of
    DATA raises smtplib's or the socket's own error; one after it raises DeliveryError with
    `unknown` set (see the module docstring).
    """
    connection.ehlo_or_helo_if_needed()
    data = fit_for(connection, data)
    options = mail_options(connection, sender, recipients, data)
    if "SMTPUTF8" in options:
        # As smtplib's mail() does: the addresses go out in UTF-8 from now on.
        connection.command_encoding = "utf-8"
    parameters = "".join(f" {option}" for option in options) if connection.does_esmtp else ""
    code, reply = command(connection, "mail", f"FROM:{smtp_path(sender)}{parameters}")
    if code != 250:
        raise refusal(code, reply, "MAIL FROM")
    for recipient in recipients:
        code, reply = command(connection, "rcpt", f"TO:{smtp_path(recipient)}")
        if code not in (250, 251):
            raise refusal(code, reply, "RCPT TO")
    code, reply = connection.docmd("DATA")
    if code != 354:
        raise refusal(code, reply, "DATA")
    connection.send(dot_stuffed(data))
    # The point of no return: the server has the whole message.
    try:
        code, reply = connection.getreply()
    except OSError as error:  # smtplib's disconnection is an OSError too
        raise lost_after_the_message(error) from error
    if code != 250:
        raise refusal(code, reply, "end of DATA")
    return f"{code} {reply.decode('utf-8', 'replace')}"


def command(connection: smtplib.SMTP, verb: str, argument: str) -> tuple[int, bytes]:
    connection.putcmd(verb, argument)
    return connection.getreply()


def smtp_path(address: str) -> str:
    """The address in angle brackets for MAIL FROM / RCPT TO, as smtplib's quoteaddr()
    writes it; a plain address without parsing it again (email.utils.parseaddr is most of
    the CPU of a transaction)."""
    if PLAIN_ADDRESS.match(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def mail_options(
    connection: smtplib.SMTP, sender: str, recipients: list[str], data: bytes
) -> list[str]:
    """The MAIL FROM parameters a careful client gives: SIZE where offered, BODY=8BITMIME
    for a message with 8-bit bytes (RFC 6152; `fit_for` made it 7-bit for a server without
    it), SMTPUTF8 only where an address needs it (RFC 6531)."""
    options: list[str] = []
    esmtp = connection.does_esmtp
    if esmtp and connection.has_extn("size"):
        options.append(f"SIZE={len(data)}")
    if not data.isascii():
        options.append("BODY=8BITMIME")
    if not all(address.isascii() for address in (sender, *recipients)):
        if not (esmtp and connection.has_extn("smtputf8")):
            raise DeliveryError(
                "the mail server does not accept international addresses (no SMTPUTF8)",
                permanent=True,
            )
        options.append("SMTPUTF8")
    return options


def fit_for(connection: smtplib.SMTP, data: bytes) -> bytes:
    """The message as this server can take it: unchanged, or, for a server that does not
    offer 8BITMIME, with its 8-bit parts re-encoded as quoted-printable (RFC 6152 §3)."""
    return seven_bit(data) if needs_seven_bit(connection, data) else data


def needs_seven_bit(connection: smtplib.SMTP, data: bytes) -> bool:
    """Whether this server must get the message made 7-bit (fit_for)."""
    return not data.isascii() and not (connection.does_esmtp and connection.has_extn("8bitmime"))


def seven_bit(data: bytes) -> bytes:
    message = message_from_bytes(data, policy=compat32)
    for part in message.walk():
        if part.is_multipart():
            continue
        body = part.get_payload(decode=True)
        if not isinstance(body, bytes) or body.isascii():
            continue
        del part["Content-Transfer-Encoding"]
        part.set_payload(body)
        encode_quopri(part)
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=compat32.clone(linesep="\r\n")).flatten(message)
    return out.getvalue()


LINE_START_DOT = re.compile(rb"(?m)^\.")
BARE_LINE_END = re.compile(rb"\r\n|\r|\n")


def dot_stuffed(data: bytes) -> bytes:
    """The DATA content as it goes on the wire (RFC 5321 §4.5.2): CRLF line ends, a dot
    doubled at the start of a line, and the final CRLF "." CRLF."""
    wire = LINE_START_DOT.sub(b"..", BARE_LINE_END.sub(b"\r\n", data))
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    return wire + b".\r\n"


def _json_safe(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, set | frozenset | list | tuple):
        return sorted(str(item) for item in value)
    return str(value)
