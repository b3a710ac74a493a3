"""Turning an Email row into the message that goes to the mail server."""

from __future__ import annotations

from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import Message
from email.policy import Policy
from email.utils import parseaddr
from io import BytesIO
from typing import Any

from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, make_msgid

from commandcenter.outbox.merge import render
from commandcenter.outbox.models import Email
from commandcenter.tracking.instrument import instrument, unsubscribe_headers


def verp_address(email: Email) -> str:
    """The envelope sender: bounces come back to an address that names this one email."""
    return f"bounce+{email.token}@{settings.BOUNCE_DOMAIN}"


def new_message_id() -> str:
    """A fresh Message-ID (with its angle brackets, as it appears in the header)."""
    return make_msgid(domain=settings.BOUNCE_DOMAIN)


def rep_address(email: Email) -> str:
    """The rep who sends it, as "Display Name <address>" with the name safely quoted."""
    rep = email.owner
    address = rep.email or settings.DEFAULT_FROM_EMAIL
    # Names come from people: never let one carry a line break into a header.
    name = " ".join(rep.display_name.split())
    try:
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError):
        return parseaddr(address)[1] or settings.DEFAULT_FROM_EMAIL


def one_line(text: str) -> str:
    """A header value on one line: a merge field's value may hold line breaks."""
    return " ".join(text.splitlines())


def build_message(email: Email, *, verp: bool = True) -> EmailMultiAlternatives:
    """The email rendered for its recipient: merge fields filled, tracking added, headers set.

    Raises MissingMergeField when a merge field cannot be filled for the recipient.
    `verp=False` is for ESP backends, which collect bounces themselves: the envelope sender
    is then the rep.
    """
    person, rep = email.person, email.owner
    subject = one_line(render(email.subject, person, rep))
    text = render(email.body_text, person, rep)
    html = render(email.body_html, person, rep, html_escape=True) if email.body_html else ""
    html, text = instrument(email, html, text)
    sender = rep_address(email)
    headers = dict(unsubscribe_headers(email))
    if verp:
        headers["From"] = sender
    if email.message_id:
        headers["Message-ID"] = email.message_id
    message = AnymailMessage(
        subject=subject,
        body=text,
        from_email=verp_address(email) if verp else sender,
        to=[email.to_address],
        reply_to=[sender],
        headers=headers,
        # ESPs hand this back in their webhooks (django-anymail), so events find their email.
        metadata={"email_token": email.token},
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


# RFC 5322's recommended line length, which the stdlib folds headers at.
HEADER_LINE = 78


def serialize(message: Message) -> bytes:
    """The message as it goes over SMTP: what Django's `as_bytes()` with CRLF line ends
    gives, byte for byte, at a fraction of the cost."""
    out = BytesIO()
    _Generator(out, mangle_from_=False).flatten(message, linesep="\r\n")
    return out.getvalue()


def fold_header(policy: Policy, name: str, value: Any) -> bytes:
    """One header line as the policy writes it; a short plain-ASCII one without its help.

    Folding every header through email.header is most of the cost of serializing a
    message, and a header that fits on one line comes out of it unchanged.
    """
    if (
        isinstance(value, str)
        and len(name) + 2 + len(value) <= HEADER_LINE
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
        and "  " not in value
    ):
        return f"{name}: {value}{policy.linesep}".encode("ascii")
    return policy.fold_binary(name, value)


class _Generator(BytesGenerator):
    # Overrides the stdlib generator's (private, but stable) header writer; sub-parts are
    # written by clones of this class, so they take the same path.
    def _write_headers(self, msg: Message) -> None:
        policy = self.policy
        assert policy is not None, "flatten() sets the policy before writing headers"
        for name, value in msg.raw_items():
            self.write_bytes(fold_header(policy, name, value))
        self.write_bytes(policy.linesep.encode("ascii"))

    def write_bytes(self, data: bytes) -> None:
        self._fp.write(data)  # type: ignore[attr-defined]
