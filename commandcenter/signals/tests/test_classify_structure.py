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


def test_an_address_quoted_after_a_reply_code_keeps_no_code_or_quote() -> None:
    raw = message(
        PLAIN_BOUNCE_HEADERS,
        """
The following message to <gone@example.org> was undeliverable.
The reason for the problem:
5.1.0 - Unknown address error 550-'gone@example.org... No such user'
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


# -- reasons ---------------------------------------------------------------------------------


def failed(diagnostic: str, status: str = "5.0.0") -> bytes:
    """A DSN for pat@example.org with this Status and Diagnostic-Code."""
    return report(
        f"Final-Recipient: rfc822; pat@example.org\nAction: failed\nStatus: {status}\n"
        f"Diagnostic-Code: {diagnostic}"
    )


def only_recipient(raw: bytes) -> tuple[str, bool]:
    (recipient,) = classify(raw).recipients
    return recipient.reason, recipient.hard_bounce


@pytest.mark.parametrize(
    "words",
    [
        "550 Addressee unknown",
        "550 pat@example.org is not listed in the global address book",
        "550 No entry found in the directory for pat@example.org",
        "550 Invalid final delivery userid: pat@example.org",
        "550 The mail account pat@example.org does not exist on this server",
        "550 Recipient pat@example.org is not a registered mailbox",
        "554 The e-mail address you entered couldn't be found",
        "554 The mail system could not find a mailbox for pat@example.org",
    ],
)
def test_it_reads_dead_address_wordings_no_phrase_table_holds(words: str) -> None:
    """Groupware directory look-ups and other servers' ways of saying "no such mailbox",
    answered to RCPT TO: a dead address, whatever the words."""
    raw = failed(f"smtp; {words} (in reply to RCPT TO command)")
    assert only_recipient(raw) == ("userunknown", True)


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        ("The recipient's mailbox storage is over its quota", "mailboxfull"),
        ("The destination domain does not exist (NXDOMAIN)", "hostunknown"),
        ("Relay access is prohibited for this address", "norelaying"),
        ("The message size exceeds the limit set for this recipient", "mesgtoobig"),
        ("This mailbox has been deactivated by the administrator", "suspend"),
    ],
)
def test_it_reads_a_vendor_format_without_any_status_code(words: str, reason: str) -> None:
    """A groupware's own notice: no DSN, no status, no SMTP reply; the words decide."""
    raw = message(
        """
From: Mail Gateway <postmaster@gw.example.net>
To: bounce+tok@bounces.example.com
Subject: Undeliverable: Hello
""",
        f"""
Your message did not reach some or all of the intended recipients.

   Subject: Hello
   Sent: 02/03/2026 10:00

The following recipient(s) cannot be reached:

   pat@example.org on 02/03/2026 10:01
      {words}
""",
    )
    assert only_recipient(raw)[0] == reason


@pytest.mark.parametrize(
    ("status", "diagnostic"),
    [
        ("5.1.1", "x-unix; procmail: Unknown user pat"),
        ("5.3.0", 'x-unix; /usr/bin/procmail: Couldn\'t create "/var/mail/pat"'),
        ("5.1.1", "x-unix; Command died with status 67: /usr/local/bin/deliver"),
    ],
)
def test_a_local_delivery_agents_error_is_a_mailer_error_not_a_dead_address(
    status: str, diagnostic: str
) -> None:
    """Postfix maps a delivery program's exit status to a 5.x.x code (EX_NOUSER is 5.1.1):
    the server accepted the address; a program behind it failed."""
    assert only_recipient(failed(diagnostic, status)) == ("mailererror", False)


def test_a_local_delivery_agent_that_gives_only_its_exit_status_is_read_by_the_status() -> None:
    """ "X-Unix; 77" says nothing but a number: the status the server mapped it to decides."""
    assert only_recipient(failed("X-Unix; 77", "5.3.0")) == ("systemerror", False)


def test_a_local_delivery_agent_still_reports_a_full_mailbox() -> None:
    assert only_recipient(failed("x-unix; maildrop: maildir over quota.", "5.2.2"))[0] == (
        "mailboxfull"
    )


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        # requireptr vs blocked: a missing PTR is not a listing, a listing is not a PTR.
        ("550 5.7.1 Client host rejected: no valid reverse hostname for 192.0.2.1", "requireptr"),
        ("550 5.7.1 Rejected: the IP address 192.0.2.1 has no PTR record", "requireptr"),
        ("554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org", "blocked"),
        ("554 5.7.1 Rejected: reverse DNS of 192.0.2.1 is listed at a DNSBL", "blocked"),
        ("554 5.7.1 Refused: hostname does not match IP address 192.0.2.1", "requireptr"),
        # authfailure vs blocked: SPF, DKIM, DMARC failures, even when they say "blocked".
        ("550 5.7.1 Message blocked: SPF validation failed for example.com", "authfailure"),
        ("550 5.7.1 Blocked: DKIM signature did not pass for sales.example.com", "authfailure"),
        ("550 5.7.1 Sender IP 192.0.2.1 is blocked", "blocked"),
        # rejected vs badreputation: the sender refused, or its reputation.
        ("550 5.7.1 Sender rejected due to the poor reputation of your domain", "badreputation"),
        ("553 5.7.1 Sender address rejected: not owned by user", "rejected"),
        ("550 5.7.1 Rejected: 192.0.2.1 is on the Reputation Block List", "blocked"),
        ("554 5.7.1 Spam source: IP in our reputation block list", "blocked"),
        # toomanyconn vs speeding: connections at once, or messages over time.
        ("421 4.7.0 Too many concurrent SMTP connections from this IP", "toomanyconn"),
        ("421 4.7.0 Connection rate limit exceeded for 192.0.2.1", "toomanyconn"),
        ("450 4.7.1 You have exceeded the sending rate of 100 messages per hour", "speeding"),
        # rejected: our sender may not send as the identity it used.
        ("550 5.7.60 Client does not have permissions to send as this sender", "rejected"),
        ("550 5.7.1 You are sending from a different address than your account", "rejected"),
        # policyviolation vs blocked: what the message carries is refused, not our IP.
        ("554 5.7.1 Message blocked: attachments of this type are not allowed", "policyviolation"),
        ("554 5.7.1 Blocked: the message holds a banned attachment (.exe)", "policyviolation"),
    ],
)
def test_it_tells_policy_reasons_apart_by_what_they_mean(words: str, reason: str) -> None:
    assert only_recipient(failed(f"smtp; {words}", words.split()[1]))[0] == reason


def test_each_recipient_says_what_the_server_did() -> None:
    """`action` (not printed by `classify`): a Postfix delay warning is "delayed", so the
    email reads "still trying", never "expired"."""
    raw = report(
        """
Final-Recipient: rfc822; slow@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.9]:25: Connection timed out
Will-Retry-Until: Fri, 6 Mar 2026 10:00:00 +0000

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
""",
        text="This is the mail system at host mx.example.net. Your message is delayed.",
    )
    by_address = {r.address: r for r in classify(raw).recipients}
    assert (by_address["slow@example.org"].action, by_address["slow@example.org"].permanent) == (
        "delayed",
        False,
    )
    assert by_address["gone@example.org"].action == "failed"
    assert "action" not in by_address["gone@example.org"].as_dict()
    text_only = message(PLAIN_BOUNCE_HEADERS, "<gone@example.org>:\n550 5.1.1 no such user here\n")
    assert [r.action for r in classify(text_only).recipients] == ["failed"]


def test_a_person_writing_through_a_list_is_still_a_person() -> None:
    raw = message(
        """
From: Pat Prospect <pat@example.org>
To: buyers@lists.example.org
Subject: Re: Our offer
List-Id: <buyers.lists.example.org>
In-Reply-To: <orig-5@sales.example.com>
""",
        "I'm not a member of the board, but only members may post offers here, I believe.",
    )
    assert classify(raw).kind == "human"


@pytest.mark.parametrize(
    "words",
    [
        "User pat (pat@example.org) not listed in public Name & Address Book",
        "550 No entry found in the LDAP directory for pat@example.org",
    ],
)
def test_a_directory_that_has_no_such_address_means_a_dead_address(words: str) -> None:
    """A groupware's directory look-up says the address is not there whatever the code and
    the stage: not a filter's polite refusal."""
    assert only_recipient(failed(f"smtp; {words}")) == ("userunknown", True)


# -- session transcripts and several recipients ------------------------------------------------


def test_a_transcript_is_read_at_its_failing_reply() -> None:
    """A server's own transcript: the status is the failing reply's (4.3.0), not the 2.1.5
    of the RCPT that went well; its EHLO keywords (250-STARTTLS) are no cause; the sender
    given at MAIL FROM is no recipient."""
    raw = message(
        """
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: postmaster@mx.example.net
Subject: Mail server: errors from relay.example.com[192.0.2.5]
""",
        """
Transcript of session follows.

 Out: 220 mx.example.net ESMTP
 In:  EHLO relay.example.com
 Out: 250-mx.example.net
 Out: 250-STARTTLS
 Out: 250-AUTH PLAIN LOGIN
 Out: 250 8BITMIME
 In:  MAIL FROM:<alice@sales.example.com> SIZE=4096
 Out: 250 2.1.0 Ok
 In:  RCPT TO:<pat@example.org>
 Out: 250 2.1.5 Ok
 In:  DATA
 Out: 354 End data with <CR><LF>.<CR><LF>
 Out: 451 4.3.0 Error: spool disk write failure
 In:  QUIT
 Out: 221 2.0.0 Bye
""",
    )
    result = classify(raw)
    assert result.kind == "bounce"
    (recipient,) = result.recipients
    assert (recipient.address, recipient.dsn_status, recipient.smtp_reply_code) == (
        "pat@example.org",
        "4.3.0",
        "451",
    )
    assert (recipient.reason, recipient.hard_bounce) == ("systemerror", False)


def test_a_recipients_lines_end_where_the_next_session_begins() -> None:
    """Sendmail writes each recipient's result, then the transcript of its next session
    ("While talking to …:"): a connection reset there is not why the address above failed."""
    raw = message(
        """
From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>
To: alice@sales.example.com
Subject: Returned mail: Host unknown
""",
        """
   ----- Transcript of session follows -----
554 <pat@nowhere.example.org>... 550 Domain name not resolvable (authoritative answer)
While talking to mx.example.com:
>>> QUIT
<<< 421 mx.example.com Sorry, try again later.
421 mx.example.com (smtp)... Deferred: Connection reset by peer during greeting wait

   ----- Unsent message follows -----
From: alice@sales.example.com
To: pat@nowhere.example.org
Subject: Hello
""",
    )
    assert only_recipient(raw) == ("hostunknown", True)


def test_one_recipients_diagnostic_is_never_anothers() -> None:
    """Per-recipient groups in a report whose MIME went flat (its boundary is indented, so
    it is one text): the second group's "user unknown" says nothing of the first recipient."""
    raw = message(
        """
From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>
To: alice@sales.example.com
Subject: Returned mail: see transcript for details
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="X9"
""",
        """
 --X9
Content-Type: text/plain

   ----- The following addresses had permanent fatal errors -----
<first@example.org>
<second@example.net>

 --X9
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.net

Final-Recipient: rfc822; first@example.org
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 Request could not be completed (code 41)

Final-Recipient: rfc822; second@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown
 --X9--
""",
    )
    by_address = {r.address: r for r in classify(raw).recipients}
    assert by_address["second@example.net"].reason == "userunknown"
    assert by_address["first@example.org"].reason != "userunknown"
    assert not by_address["first@example.org"].hard_bounce


# -- reasons from codes -------------------------------------------------------------------------


def test_a_mailbox_refused_at_rcpt_with_no_more_words_is_a_dead_address() -> None:
    """RFC 5321: 550 to RCPT TO is "mailbox unavailable"; words that only echo the refusal
    say nothing else."""
    raw = failed("smtp; 550 <pat@example.org>: Recipient refused. (in reply to RCPT TO command)")
    assert only_recipient(raw) == ("userunknown", True)
    after_data = failed("smtp; 554 Transaction refused (in reply to end of DATA command)")
    assert only_recipient(after_data)[1] is False


@pytest.mark.parametrize(
    ("diagnostic", "status", "reason"),
    [
        ("smtp; 530 Access denied", "5.0.0", "securityerror"),
        ("smtp; 556 mail.example.org takes no messages", "5.0.0", "notaccept"),
        ("smtp; 501 Bad parameters", "5.0.0", "syntaxerror"),
        ("smtp; 550 5.4.9 Routing failure (code 17)", "5.4.9", "networkerror"),
    ],
)
def test_a_reply_code_or_status_subject_decides_when_the_words_say_nothing(
    diagnostic: str, status: str, reason: str
) -> None:
    """RFC 5321 syntax replies, RFC 4954 authentication, RFC 7504 no-mail hosts; RFC 3463's
    X.4.X subject (network and routing) for a detail no table names."""
    assert only_recipient(failed(diagnostic, status))[0] == reason


@pytest.mark.parametrize(
    "words",
    ["553 <pat@@example.org>: ill-formed recipient address", "501 Badly formed address"],
)
def test_a_badly_formed_address_is_a_syntax_error(words: str) -> None:
    assert only_recipient(failed(f"smtp; {words}")) == ("syntaxerror", False)


def test_a_consumer_ip_told_to_use_its_providers_server_is_blocked() -> None:
    """Refused at MAIL FROM, but for the IP it came from: `blocked`, not our sender."""
    raw = failed(
        "smtp; 550 5.7.1 <alice@sales.example.com>... Dynamic IP addresses must send through "
        "your ISP's mail server (in reply to MAIL FROM command)",
        "5.7.1",
    )
    assert only_recipient(raw) == ("blocked", False)


@pytest.mark.parametrize(
    "diagnostic",
    ["smtp; 550 <pat@example.org>: User unknown", "smtp; 550 pat@example.org... No such user"],
)
def test_a_reply_that_names_the_refused_mailbox_answers_rcpt(diagnostic: str) -> None:
    """ "No such user" with no command and an undetailed 5.0.0: a reply in the form of an
    answer to RCPT TO (the code, then the mailbox) places the refusal at RCPT, a dead address."""
    assert only_recipient(failed(diagnostic)) == ("userunknown", True)


@pytest.mark.parametrize(
    ("diagnostic", "status"),
    [
        ("smtp; 550 User unknown", "5.0.0"),  # names no mailbox: it may be the message's
        ("smtp; 550 <pat@example.org>: User unknown", "5.2.0"),  # the code says: the mailbox
        ("smtp; 550 <pat@example.org>: User unknown (in reply to end of DATA command)", "5.0.0"),
    ],
)
def test_no_such_user_after_the_message_or_without_a_mailbox_stays_filtered(
    diagnostic: str, status: str
) -> None:
    assert only_recipient(failed(diagnostic, status)) == ("filtered", False)


def test_such_a_reply_in_a_record_without_a_status_stays_filtered() -> None:
    """A record with no Status field (RFC 3464 requires one): a gateway's own summary, whose
    quoted reply is not placed in the dialogue by any code."""
    raw = report(
        "Original-Recipient: <pat@example.org>\nAction: failed\n"
        "Diagnostic-Code: smtp; 550 pat@example.org... No such user"
    )
    assert only_recipient(raw) == ("filtered", False)
