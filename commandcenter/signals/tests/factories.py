"""Delivered emails and the inbound messages that answer them, for the signals tests."""

from __future__ import annotations

import zlib

from django.conf import settings

from commandcenter.accounts.models import User
from commandcenter.outbox.compose import compose_single
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status, transition


def delivered_email(user: User, to: str = "prospect@example.org") -> Email:
    """An email the sender handed to the mail server, with its Message-ID."""
    email = compose_single(user, to=to, subject="Pricing", body_text="Hello")
    assert transition(email.pk, Status.IN_PROGRESS, kind="claimed")
    message_id = f"<sent-{email.pk}@{settings.BOUNCE_DOMAIN}>"
    assert transition(email.pk, Status.DELIVERED, kind="sent", updates={"message_id": message_id})
    email.refresh_from_db()
    return email


def verp(email: Email) -> str:
    return f"bounce+{email.token}@{settings.BOUNCE_DOMAIN}"


def mail(headers: str, body: str) -> bytes:
    return (headers.strip() + "\n\n" + body.lstrip("\n")).replace("\n", "\r\n").encode()


def dsn(
    email: Email,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "550 5.1.1 <{to}>: Recipient address rejected: User unknown",
    message_id: str = "<report-1@mx.example.org>",
    with_verp: bool = True,
) -> bytes:
    """A delivery status report about `email`, quoting its original headers."""
    return_path = f"Return-Path: <{verp(email)}>\n" if with_verp else ""
    to = email.to_address
    return mail(
        f"""
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: {verp(email) if with_verp else "rep@example.com"}
Subject: Undelivered Mail Returned to Sender
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        f"""
--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {to}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic.format(to=to)}

--B
Content-Type: text/rfc822-headers

{return_path}Message-ID: {email.message_id}
To: {to}
Subject: Pricing

--B--
""",
    )


def arf(email: Email, *, message_id: str = "<arf-1@isp.example>") -> bytes:
    return mail(
        f"""
From: feedback@isp.example
To: {verp(email)}
Subject: Abuse report
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B"
""",
        f"""
--B
Content-Type: text/plain

This is an abuse report.

--B
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1
Original-Rcpt-To: <{email.to_address}>

--B
Content-Type: text/rfc822-headers

Message-ID: {email.message_id}
To: {email.to_address}

--B--
""",
    )


def reply(email: Email, *, body: str, subject: str = "Re: Pricing", extra: str = "") -> bytes:
    return mail(
        f"""
From: {email.to_address}
To: rep@example.com
Subject: {subject}
Message-ID: <reply-{email.pk}-{zlib.crc32(body.encode())}@example.org>
In-Reply-To: {email.message_id}
References: {email.message_id}
Date: Mon, 3 Mar 2031 09:00:00 +0000
{extra}
""",
        body,
    )
