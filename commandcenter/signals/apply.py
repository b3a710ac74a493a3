"""Applying one inbound message to the email it is about.

`apply_inbound()` is what every mail ingestion path calls (the MTA pipe, the SMTP listener,
IMAP polling). It stores the message once (InboundMessage, unique on its hash), classifies
it, finds the one email it is about, and records the signal through `record_signal()`.

A report (a bounce or a spam complaint) is about one message we sent: it is found by the
VERP token of our envelope sender (where the report was delivered, then the report's own
headers), else by the Message-ID of the original quoted in the report's own
message/rfc822 or text/rfc822-headers part — never by the report's In-Reply-To or
References, which any mail program may fill. A recipient's verdict is applied only to an
email to that very address: a report that names someone else moves nothing and suppresses
no one. A reply or an auto-reply is about the email it answers (In-Reply-To, else the
newest of ours in References). Mail from our own users and copies of our own messages
found in a mailbox are never replies.

Doing it twice changes nothing: the store is unique on the bytes, and each event carries a
dedupe key: for a report, a digest of what it says (its recipients' verdicts and the
original it quotes), so the same report relayed again with other outer headers and no
Message-ID records nothing new; for other mail, its Message-ID.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Suppression
from commandcenter.people.services import unsubscribe_address
from commandcenter.signals.classify import Classification, Recipient, classify
from commandcenter.signals.models import InboundMessage
from commandcenter.signals.record import record_signal
from commandcenter.tracking.unsubscribe import email_for_token, token_from_mailto, unsubscribe

# The part of a message kept as the Event payload; the whole of it stays in InboundMessage.
PAYLOAD_CHARS = 64_000
# Where VERP tokens are looked for in the message itself (headers, report, quoted original).
SCANNED_BYTES = 1_000_000
# Kinds that report on one message we sent (as opposed to answering it).
REPORTS = frozenset({"bounce", "complaint"})
MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
HEADER_END = re.compile(rb"\r?\n\r?\n")
# The local part of an address an ISP blanked out of a complaint.
REDACTED = re.compile(r"(?i)\A(?:redacted|[x*#]+|\[?redacted\]?)\Z")


@dataclass
class ApplyResult:
    inbound_id: int
    kind: str
    duplicate: bool  # the same bytes were ingested before
    email_ids: list[int] = field(default_factory=list)
    recorded: int = 0  # events recorded by this call (0 when all were recorded before)

    @property
    def matched(self) -> bool:
        return bool(self.email_ids)


def apply_inbound(
    raw: bytes, *, source: str, envelope_sender: str = "", envelope_recipient: str = ""
) -> ApplyResult:
    """Store, classify and apply one inbound message; safe to call again with the same bytes."""
    digest = hashlib.sha256(raw).hexdigest()
    classification = classify(raw)
    with transaction.atomic():
        inbound, created = _store(
            raw, digest, classification, source, envelope_sender, envelope_recipient
        )
        unsubscribed = _unsubscribe_by_mail(raw, envelope_recipient)
        if unsubscribed is not None:
            return ApplyResult(inbound.pk, "unsubscribe", not created, [unsubscribed.pk])
        emails = (
            []
            if is_our_own(raw, classification)
            else (matching_emails(raw, classification, envelope_recipient, envelope_sender))
        )
        if emails and inbound.email_id is None:
            inbound.email = emails[0]
            inbound.save(update_fields=["email"])
        payload = raw[:PAYLOAD_CHARS].decode("utf-8", "replace")
        recorded = sum(
            _apply_to(
                email, classification, inbound, _dedupe_key(email, classification, digest), payload
            )
            for email in emails
        )
    return ApplyResult(
        inbound_id=inbound.pk,
        kind=classification.kind,
        duplicate=not created,
        email_ids=[email.pk for email in emails],
        recorded=recorded,
    )


def _unsubscribe_by_mail(raw: bytes, envelope_recipient: str) -> Email | None:
    """A message to unsubscribe+TOKEN@BOUNCE_DOMAIN (the mailto of List-Unsubscribe): the
    email it names, its recipient now unsubscribed; None for any other message."""
    token = token_from_mailto(envelope_recipient) if envelope_recipient else None
    email = email_for_token(token) if token else None
    if email is not None:
        unsubscribe(email, via="mailto", payload=raw[:PAYLOAD_CHARS].decode("utf-8", "replace"))
    return email


def _store(
    raw: bytes,
    digest: str,
    classification: Classification,
    source: str,
    envelope_sender: str,
    envelope_recipient: str,
) -> tuple[InboundMessage, bool]:
    return InboundMessage.objects.get_or_create(
        sha256=digest,
        defaults={
            "raw": raw,
            "source": source[:100],
            "envelope_sender": envelope_sender[:998],
            "envelope_recipient": envelope_recipient[:998],
            "message_id": classification.message_id[:998],
            "kind": classification.kind,
            "classification": classification.as_dict(),
        },
    )


def _dedupe_key(email: Email, classification: Classification, digest: str) -> str:
    if classification.kind in REPORTS:
        return report_key(email, classification)
    message_id = classification.message_id.strip()
    if message_id:
        # Long Message-IDs are hashed: the key column is 255 characters.
        if len(message_id) > 200:
            message_id = hashlib.sha256(message_id.encode()).hexdigest()
        return f"inbound:{message_id}"
    return f"inbound-sha256:{digest}"


def report_key(email: Email, classification: Classification) -> str:
    """What makes two reports the same report: their kind, the original they quote and each
    recipient's verdict (final or not), for the same send of the email (a Retry Send starts
    a new one, so the next bounce of a retried email is a new report)."""
    verdicts = sorted(
        # `permanent`: a delay warning and the final failure may say the same words.
        (r.address.lower(), r.permanent, r.dsn_status, r.reason, " ".join(r.diagnostic.split()))
        for r in classification.recipients
    )
    said = json.dumps(
        [
            classification.kind,
            classification.original_message_id.strip().lower(),
            classification.feedback_type,
            verdicts,
        ]
    )
    sends = email.events.filter(kind="retried").count()
    return f"report:{hashlib.sha256(said.encode()).hexdigest()}:send{sends}"


def is_temporary_failure(error: BaseException) -> bool:
    """Our own trouble that passes (the database is locked, restarting, unreachable): the
    sending side should keep the message and try again. Anything else is a bug to be seen
    rather than retried forever."""
    return isinstance(error, (OperationalError, InterfaceError))


# -- matching --------------------------------------------------------------------------------


def verp_tokens(*texts: str | bytes) -> list[str]:
    """Email tokens named by bounce addresses (bounce+TOKEN@BOUNCE_DOMAIN) in these texts."""
    pattern = re.compile(
        rb"bounce\+([A-Za-z0-9_-]{8,64})@" + re.escape(settings.BOUNCE_DOMAIN.encode()),
        re.IGNORECASE,
    )
    found: list[str] = []
    for text in texts:
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        found += [match.decode() for match in pattern.findall(data)]
    return list(dict.fromkeys(found))


def email_by_token(tokens: list[str]) -> Email | None:
    """The one email these tokens name, or None (none, or several: then they prove nothing)."""
    if not tokens:
        return None
    found = list(Email.objects.filter(token__in=tokens)[:2])
    if not found:
        # Some mail systems lower-case the local part; tokens are random enough that a
        # case-blind match is still unambiguous.
        found = [
            e for token in tokens[:5] if (e := Email.objects.filter(token__iexact=token).first())
        ]
    return found[0] if len({e.pk for e in found}) == 1 else None


def email_by_message_id(message_id: str) -> Email | None:
    if not message_id.strip():
        return None
    found = list(Email.objects.filter(message_id=message_id.strip())[:2])
    return found[0] if len(found) == 1 else None


def matching_emails(raw: bytes, classification: Classification, *envelope: str) -> list[Email]:
    """The email this message is about (a list of at most one), the surest match first."""
    if classification.kind in REPORTS:
        email = report_subject(raw, classification, envelope)
    else:
        email = answered_email(raw, classification, envelope)
    return [email] if email is not None else []


def report_subject(
    raw: bytes, classification: Classification, envelope: tuple[str, ...]
) -> Email | None:
    """The email a bounce or a complaint reports on: by the VERP token where the report was
    delivered, then in its own headers and its quoted original's envelope headers, then
    anywhere in it; else by the original's Message-ID quoted in the report's own part."""
    for tokens in (
        verp_tokens(*envelope),
        verp_tokens(*classification.envelope_addresses),
        verp_tokens(raw[:SCANNED_BYTES]),
    ):
        email = email_by_token(tokens)
        if email is not None:
            return email
    return email_by_message_id(classification.original_message_id)


def answered_email(
    raw: bytes, classification: Classification, envelope: tuple[str, ...]
) -> Email | None:
    """The email a reply or an auto-reply answers: the one its In-Reply-To names, else the
    newest of ours among its References; else the one whose bounce address it was sent to
    (auto-replies often go to the envelope sender)."""
    headers = top_headers(raw)
    in_reply_to = MESSAGE_ID.findall(str(headers.get("in-reply-to", "")))
    references = MESSAGE_ID.findall(str(headers.get("references", "")))
    for message_id in [*in_reply_to[:5], *reversed(references[-50:])]:
        email = email_by_message_id(message_id)
        if email is not None:
            return email
    return email_by_token(verp_tokens(*envelope)) or email_by_token(
        verp_tokens(*classification.envelope_addresses)
    )


def top_headers(raw: bytes) -> Message:
    """The message's own header block, parsed without its body."""
    head = HEADER_END.split(raw[:SCANNED_BYTES], maxsplit=1)[0]
    return BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")


def is_our_own(raw: bytes, classification: Classification) -> bool:
    """A copy of a message we sent (found in a rep's mailbox), or mail written by one of our
    users (a rep answering in the thread): neither is a signal from a prospect."""
    if classification.kind in REPORTS:
        return False
    own_id = classification.message_id.strip()
    if own_id and Email.objects.filter(message_id=own_id).exists():
        return True
    sender = parseaddr(str(top_headers(raw).get("from", "")))[1].strip().lower()
    return bool(sender) and User.objects.filter(email__iexact=sender).exists()


# -- applying --------------------------------------------------------------------------------


def _apply_to(
    email: Email,
    classification: Classification,
    inbound: InboundMessage,
    dedupe_key: str,
    payload: str,
) -> int:
    data = {"inbound_message": inbound.pk, "kind": classification.kind}
    kind = classification.kind
    if kind == "bounce":
        return _apply_bounce(email, classification, data, dedupe_key, payload)
    if kind == "complaint":
        return _apply_complaint(email, classification, data, dedupe_key, payload)
    if kind == "auto_reply":
        data["return_date"] = classification.return_date
        detail = "Auto-reply" + (
            f", back on {classification.return_date}" if classification.return_date else ""
        )
        return record_signal(
            email,
            "auto_replied",
            detail=detail,
            payload=payload,
            data=data,
            dedupe_key=dedupe_key,
        )
    if email.message_id and email.message_id in classification.referenced_ids:
        return record_signal(
            email,
            "replied",
            detail="Replied",
            payload=payload,
            data=data,
            counter="replies",
            dedupe_key=dedupe_key,
        )
    # Mail to the bounce address that is neither a report nor an auto-reply, and does not
    # answer the email's Message-ID: kept on the timeline, never counted as a reply.
    return record_signal(
        email,
        "inbound",
        detail="Unrecognised mail to the bounce address",
        payload=payload,
        data=data,
        dedupe_key=dedupe_key,
    )


def recipient_for(email: Email, recipients: list[Recipient]) -> Recipient | None:
    """The report's entry for this email's recipient: a verdict about another address never
    applies to it."""
    address = email.to_address.lower()
    for recipient in recipients:
        if recipient.address.lower() == address:
            return recipient
    return None


def named_recipients(recipients: list[Recipient]) -> list[str]:
    """The addresses a report names, without those an ISP redacted ("redacted@…",
    "xxxxxx@…"): a complaint that names no one real is about the message it quotes."""
    return [
        r.address.lower()
        for r in recipients
        if not REDACTED.match(r.address.partition("@")[0]) and "@" in r.address
    ]


def not_applied(
    email: Email, kind: str, addresses: list[str], data: dict, dedupe_key: str, payload: str
) -> int:
    """A report that names other recipients than this email's: kept on its timeline, and
    nothing else."""
    others = ", ".join(addresses[:5]) or "no recipient"
    return record_signal(
        email,
        "report_not_applied",
        detail=f"A {kind} report about {others}, not {email.to_address}: not applied.",
        payload=payload,
        data={**data, "report_kind": kind, "addresses": addresses[:20]},
        dedupe_key=dedupe_key,
    )


def bounce_reason(recipient: Recipient) -> str:
    """The reason shown in the Bounced folder: "userunknown: 550 5.1.1 … (hard bounce)"."""
    words = recipient.diagnostic or recipient.dsn_status or "no details given"
    suffix = " (hard bounce)" if recipient.hard_bounce else ""
    return f"{recipient.reason}: {words}"[:900] + suffix


def _apply_bounce(
    email: Email, classification: Classification, data: dict, dedupe_key: str, payload: str
) -> int:
    recipient = recipient_for(email, classification.recipients)
    if recipient is None:
        addresses = [r.address.lower() for r in classification.recipients]
        return not_applied(email, "bounce", addresses, data, dedupe_key, payload)
    detail = bounce_reason(recipient)
    data = {**data, **recipient.as_dict()}
    if recipient.reason == "delivered":
        return record_signal(
            email,
            "delivery_report",
            detail=detail,
            payload=payload,
            data=data,
            dedupe_key=dedupe_key,
        )
    if not recipient.permanent:
        return record_signal(
            email,
            "deferred_bounce",
            detail=still_trying(recipient),
            payload=payload,
            data=data,
            dedupe_key=dedupe_key,
        )
    recorded = record_signal(
        email,
        "bounced",
        target=Status.BOUNCED,
        detail=detail,
        payload=payload,
        data=data,
        dedupe_key=dedupe_key,
    )
    if recipient.hard_bounce:
        suppress(email.to_address, detail)
    return recorded


def still_trying(recipient: Recipient) -> str:
    """A delay warning ("Action: delayed"): the remote server is still trying. It is not an
    expiry, whatever its status code looks like."""
    words = recipient.diagnostic or recipient.dsn_status or "no details given"
    return f"still trying: {words}"[:900]


def suppress(address: str, reason: str) -> None:
    """Put a dead address on the suppression list (once; an older entry keeps its reason)."""
    Suppression.objects.get_or_create(
        value=address.lower()[:254],
        defaults={"kind": Suppression.Kind.ADDRESS, "reason": reason[:500], "source": "bounce"},
    )


def _apply_complaint(
    email: Email, classification: Classification, data: dict, dedupe_key: str, payload: str
) -> int:
    named = named_recipients(classification.recipients)
    if named and email.to_address.lower() not in named:
        return not_applied(email, "spam complaint", named, data, dedupe_key, payload)
    feedback = classification.feedback_type or "abuse"
    data = {**data, "feedback_type": feedback}
    recorded = record_signal(
        email,
        "complained",
        target=Status.SPAM,
        detail=f"The recipient marked it as spam ({feedback}).",
        payload=payload,
        data=data,
        dedupe_key=dedupe_key,
    )
    # A complaint is the strongest "stop": the person is unsubscribed (once, the first date).
    unsubscribe_address(email.person.email)
    return recorded
