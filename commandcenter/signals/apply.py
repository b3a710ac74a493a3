"""Applying one inbound message to the emails it is about.

`apply_inbound()` is what every mail ingestion path calls (the MTA pipe, the SMTP listener,
IMAP polling). It stores the message once (InboundMessage, unique on its hash), classifies
it, finds our emails — by the VERP token of the bounce address, by the Message-IDs it
refers to, by the original's headers inside a report — and records each signal through
`record_signal()`. Doing it twice changes nothing: the store is unique on the bytes and
every event carries a dedupe key made from the inbound Message-ID (or the hash).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

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
        emails = matching_emails(raw, classification, envelope_recipient, envelope_sender)
        if emails and inbound.email_id is None:
            inbound.email = emails[0]
            inbound.save(update_fields=["email"])
        dedupe_key = _dedupe_key(classification, digest)
        payload = raw[:PAYLOAD_CHARS].decode("utf-8", "replace")
        recorded = sum(
            _apply_to(email, classification, inbound, dedupe_key, payload) for email in emails
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


def _dedupe_key(classification: Classification, digest: str) -> str:
    message_id = classification.message_id.strip()
    if message_id:
        # Long Message-IDs are hashed: the key column is 255 characters.
        if len(message_id) > 200:
            message_id = hashlib.sha256(message_id.encode()).hexdigest()
        return f"inbound:{message_id}"
    return f"inbound-sha256:{digest}"


def is_temporary_failure(error: BaseException) -> bool:
    """Our own trouble that passes (the database is locked, restarting, unreachable): the
    sending side should keep the message and try again. Anything else is a bug to be seen
    rather than retried forever."""
    return isinstance(error, (OperationalError, InterfaceError))


# -- matching --------------------------------------------------------------------------------


def verp_tokens(raw: bytes, *addresses: str) -> list[str]:
    """Email tokens named by bounce addresses (bounce+TOKEN@BOUNCE_DOMAIN): in the envelope
    addresses given, then anywhere in the message (its headers, the report, the original)."""
    pattern = re.compile(
        rb"bounce\+([A-Za-z0-9_-]{8,64})@" + re.escape(settings.BOUNCE_DOMAIN.encode()),
        re.IGNORECASE,
    )
    text = " ".join(addresses).encode("utf-8", "replace") + b" " + raw[:SCANNED_BYTES]
    return list(dict.fromkeys(match.decode() for match in pattern.findall(text)))


def matching_emails(raw: bytes, classification: Classification, *envelope: str) -> list[Email]:
    """Our emails this message is about, the surest match first (VERP token, then Message-ID)."""
    found: dict[int, Email] = {}
    tokens = verp_tokens(raw, *envelope)
    if tokens:
        for email in Email.objects.filter(token__in=tokens):
            found.setdefault(email.pk, email)
        if not found:
            # Some mail systems lower-case the local part; tokens are random enough that a
            # case-blind match is still unambiguous.
            for token in tokens:
                loose = Email.objects.filter(token__iexact=token).first()
                if loose is not None:
                    found.setdefault(loose.pk, loose)
    ids = [i for i in classification.referenced_ids if i][:50]
    if ids:
        for email in Email.objects.filter(message_id__in=ids):
            found.setdefault(email.pk, email)
    return list(found.values())


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
    """The report's entry for this email's recipient (the only entry, when addresses were
    rewritten on the way)."""
    address = email.to_address.lower()
    for recipient in recipients:
        if recipient.address.lower() == address:
            return recipient
    return recipients[0] if len(recipients) == 1 else None


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
        return 0
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
            detail=detail,
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


def suppress(address: str, reason: str) -> None:
    """Put a dead address on the suppression list (once; an older entry keeps its reason)."""
    Suppression.objects.get_or_create(
        value=address.lower()[:254],
        defaults={"kind": Suppression.Kind.ADDRESS, "reason": reason[:500], "source": "bounce"},
    )


def _apply_complaint(
    email: Email, classification: Classification, data: dict, dedupe_key: str, payload: str
) -> int:
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
