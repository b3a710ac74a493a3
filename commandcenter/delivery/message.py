"""Turning an Email row into the message that goes to the mail server."""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr

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
