"""Inbound mail as people (and our own mailboxes) send it, for the reaction tests."""

from __future__ import annotations

from commandcenter.outbox.models import Email


def reply_to(
    email: Email, *, sender: str | None = None, message_id: str = "<r1@x.example>"
) -> bytes:
    return (
        f"From: Pat <{sender or email.to_address}>\r\n"
        f"To: {email.owner.email}\r\n"
        f"Subject: Re: {email.subject}\r\n"
        f"Message-ID: {message_id}\r\n"
        f"In-Reply-To: {email.message_id}\r\n"
        f"References: {email.message_id}\r\n"
        "Date: Tue, 3 Mar 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Sounds good, let's talk Thursday.\r\n"
    ).encode()


def out_of_office(email: Email, until: str = "Monday, March 16, 2026") -> bytes:
    return (
        f"From: Pat <{email.to_address}>\r\n"
        f"To: {email.owner.email}\r\n"
        f"Subject: Automatic reply: {email.subject}\r\n"
        "Message-ID: <ooo@x.example>\r\n"
        f"In-Reply-To: {email.message_id}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Date: Tue, 3 Mar 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"I am out of the office until {until} with limited access to email.\r\n"
    ).encode()
