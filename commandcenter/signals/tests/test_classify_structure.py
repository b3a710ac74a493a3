"""classify() on the kinds of mistakes a phrase-fitted classifier makes (issue 9), each with
mail written here: recipients from the report's structure, reasons from RFC 3463 codes and
the meaning of the words, and the formats that carry no status code at all."""

from __future__ import annotations

import pytest

from commandcenter.signals.classify import Classification, classify


def message(headers: str, body: str) -> bytes:
    return (headers.strip() + "\n\n" + body.lstrip("\n")).replace("\n", "\r\n").encode()


def report(per_recipient: str, *, text: str = "Your message could not be delivered.") -> bytes:
    """A multipart/report from a mail server, with the per-recipient groups given."""
    return message(
        """
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: bounce+tok@bounces.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"
""",
        f"""
--B1
Content-Type: text/plain

{text}

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

{per_recipient.strip()}

--B1
Content-Type: text/rfc822-headers

From: Alice Sender <alice@sales.example.com>
To: prospect@example.org
Message-ID: <orig-1@sales.example.com>
Subject: Hello

--B1--
""",
    )


def recipients(result: Classification) -> dict[str, str]:
    return {r.address: r.reason for r in result.recipients}


# -- recipients ------------------------------------------------------------------------------


def arf(original_rcpt_to: list[str]) -> bytes:
    fields = "\n".join(f"Original-Rcpt-To: {address}" for address in original_rcpt_to)
    return message(
        """
From: Feedback Loop <fbl@isp.example.net>
To: abuse@sales.example.com
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F1"
""",
        f"""
--F1
Content-Type: text/plain

This is an abuse report for a message received from 192.0.2.1.

--F1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
{fields}
Arrival-Date: Mon, 02 Mar 2026 10:00:00 +0000

--F1
Content-Type: message/rfc822

From: alice@sales.example.com
To: undisclosed-recipients:;
Message-ID: <campaign-7@sales.example.com>
Subject: Offer

Hello.
--F1--
""",
    )


def test_it_lists_every_recipient_of_a_multi_recipient_complaint() -> None:
    result = classify(arf(["one@example.org", "two@example.org", "three@example.net"]))
    assert result.kind == "complaint"
    assert [r.address for r in result.recipients] == [
        "one@example.org",
        "two@example.org",
        "three@example.net",
    ]
    assert {r.reason for r in result.recipients} == {"feedback"}


def test_it_reads_every_delivery_report_a_message_holds() -> None:
    """Two message/delivery-status parts (a relay that adds its own report to the first
    server's): recipients of both."""
    first = report(
        """
Final-Recipient: rfc822; first@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <first@example.org>: Recipient address rejected
"""
    )
    second_part = """
--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.net

Final-Recipient: rfc822; second@example.net
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

--B1
Content-Type: text/rfc822-headers
"""
    raw = first.replace(
        b"--B1\r\nContent-Type: text/rfc822-headers\r\n",
        second_part.replace("\n", "\r\n").encode(),
        1,
    )
    assert recipients(classify(raw)) == {
        "first@example.org": "userunknown",
        "second@example.net": "mailboxfull",
    }


def test_it_reads_two_reports_forwarded_in_one_message() -> None:
    """A digest of two bounces, each a multipart/report attached whole."""
    one = report("Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1")
    two = report("Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 5.1.2")
    raw = message(
        """
From: postmaster@example.net
To: bounce+tok@bounces.example.com
Subject: Delivery reports
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="D1"
""",
        "--D1\nContent-Type: text/plain\n\nTwo reports follow.\n\n"
        "--D1\nContent-Type: message/rfc822\n\n"
        + one.decode().replace("\r\n", "\n")
        + "\n--D1\nContent-Type: message/rfc822\n\n"
        + two.decode().replace("\r\n", "\n")
        + "\n--D1--\n",
    )
    assert recipients(classify(raw)) == {
        "a@example.org": "userunknown",
        "b@example.org": "hostunknown",
    }


@pytest.mark.parametrize(
    "field",
    [
        "rfc822; 'quoted@example.org'",
        'rfc822; "quoted@example.org"',
        "rfc822; smtp=quoted@example.org",
        "rfc822; SMTP:quoted@example.org",
        "rfc822;<quoted@example.org>",
    ],
)
def test_it_cleans_the_recipient_field(field: str) -> None:
    raw = report(f"Final-Recipient: {field}\nAction: failed\nStatus: 5.1.1")
    assert recipients(classify(raw)) == {"quoted@example.org": "userunknown"}


def test_it_takes_the_final_recipient_over_the_original() -> None:
    raw = report(
        """
Original-Recipient: rfc822; sales-alias@example.org
Final-Recipient: rfc822; pat.real@mail.example.org
Action: failed
Status: 5.1.1
"""
    )
    assert recipients(classify(raw)) == {"pat.real@mail.example.org": "userunknown"}


PLAIN_BOUNCE_HEADERS = """
From: MAILER-DAEMON@mail.example.net
To: bounce+tok@bounces.example.com
Subject: failure notice
"""


def test_it_takes_no_address_from_the_quoted_original() -> None:
    raw = message(
        PLAIN_BOUNCE_HEADERS,
        """
Hi. This is the mail system at mail.example.net.
I could not deliver your message to the following address:

<gone@example.org>:
550 5.1.1 no such user here

The headers of your message were:

From: Alice Sender <alice@sales.example.com>
To: gone@example.org
Cc: manager@example.org, other.person@example.com
Reply-To: replies@sales.example.com
Message-ID: <orig-9@sales.example.com>
Subject: Hello
""",
    )
    assert recipients(classify(raw)) == {"gone@example.org": "userunknown"}


def test_it_never_takes_the_sender_or_a_message_id_for_a_recipient() -> None:
    raw = message(
        PLAIN_BOUNCE_HEADERS,
        """
Your message <orig-9@sales.example.com> from alice@sales.example.com
could not be delivered to:

    gone@example.org: 550 5.1.1 user unknown

Message-ID: <orig-9@sales.example.com>
From: alice@sales.example.com
""",
    )
    assert recipients(classify(raw)) == {"gone@example.org": "userunknown"}


# -- mailing lists -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "subject", "text"),
    [
        (
            "sales-team-owner@lists.example.org",
            "Your message to sales-team awaits moderator approval",
            "Your message to the sales-team mailing list has been rejected: you are not a "
            "member of the list, and only members may post.",
        ),
        (
            "listserv@lists.example.net",
            "Rejected posting to PARTNERS@LISTS.EXAMPLE.NET",
            "You are not allowed to post to this mailing list, and your message has been "
            "automatically rejected.",
        ),
        (
            "partners-request@example.com",
            "Message rejected",
            "Posting by non-member to a members-only list is not permitted.",
        ),
    ],
)
def test_it_reads_a_list_managers_not_a_member_rejection_as_a_bounce(
    sender: str, subject: str, text: str
) -> None:
    raw = message(
        f"""
From: {sender}
To: alice@sales.example.com
Subject: {subject}
Auto-Submitted: auto-replied
Precedence: bulk
""",
        text
        + """

----- Original message -----
From: alice@sales.example.com
To: sales-team@lists.example.org
Subject: Our offer
Message-ID: <orig-5@sales.example.com>
""",
    )
    result = classify(raw)
    assert result.kind == "bounce"
    assert [(r.address, r.reason) for r in result.recipients] == [
        ("sales-team@lists.example.org", "rejected")
    ]
    assert not result.recipients[0].hard_bounce


def test_a_person_who_says_you_are_not_a_member_is_still_a_person() -> None:
    raw = message(
        """
From: Pat Prospect <pat@example.org>
To: alice@sales.example.com
Subject: Re: Our offer
In-Reply-To: <orig-5@sales.example.com>
""",
        "Thanks, but you are not a member of our buying group, so we cannot take this up.",
    )
    assert classify(raw).kind == "human"
