"""What an inbound message is: a bounce, a spam complaint, an auto-reply or a human reply.

`classify(raw)` is a pure function of the bytes. It never raises: malformed MIME, broken
charsets, binary junk and empty input all come back as a Classification (at worst `human`
with nothing found). The reason vocabulary and its phrases live in `reasons.py` (data);
out-of-office phrases and return dates in `autoreply.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from commandcenter.signals import autoreply, dsn, lists, ses
from commandcenter.signals.reasons import (
    HARD_REASONS,
    HARD_WHEN_PERMANENT,
    SPECIFIC_STATUSES,
    reason_for,
)

logger = logging.getLogger(__name__)

# Past this many bytes nothing a classifier needs is left (headers, the report, the first
# lines of the original message); the rest is the original's attachments.
MAX_SCANNED_BYTES = 1_000_000


@dataclass
class Recipient:
    address: str
    permanent: bool
    hard_bounce: bool
    reason: str
    dsn_status: str = ""
    smtp_reply_code: str = ""
    # The server's own words (not printed: `reason` is the summary of it).
    diagnostic: str = ""
    # What the reporting server did (RFC 3464 Action, lower case): "failed", "delayed" (it
    # is still trying: a Postfix delay warning), "delivered", "relayed", "expanded"; for a
    # report without the field, "failed" or "delayed" as its words say; "" for complaints.
    # Not printed by `classify` (DESIGN §4 fixes that shape); signals/apply.py reads it.
    action: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "permanent": self.permanent,
            "hard_bounce": self.hard_bounce,
            "reason": self.reason,
            "dsn_status": self.dsn_status,
            "smtp_reply_code": self.smtp_reply_code,
        }


@dataclass
class Classification:
    kind: str  # bounce | complaint | auto_reply | human
    recipients: list[Recipient] = field(default_factory=list)
    feedback_type: str = ""
    original_message_id: str = ""
    return_date: str = ""
    # For matching the message to our emails, not part of the printed shape: the Message-IDs
    # it refers to (its own In-Reply-To/References, the original's Message-ID) and the
    # addresses seen in the original's envelope headers (where a VERP token may hide).
    referenced_ids: list[str] = field(default_factory=list)
    envelope_addresses: list[str] = field(default_factory=list)
    message_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "recipients": [r.as_dict() for r in self.recipients],
            "feedback_type": self.feedback_type,
            "original_message_id": self.original_message_id,
            "return_date": self.return_date,
        }


def classify(raw: bytes) -> Classification:
    """Classify one inbound message; never raises for any input bytes."""
    try:
        scanned = bytes(raw[:MAX_SCANNED_BYTES])
        return _classify(dsn.Parsed(dsn.parse(scanned), scanned))
    except Exception:  # any bytes must classify: what we cannot read is "human"
        logger.warning("could not classify a message of %d bytes", len(raw), exc_info=True)
        return Classification(kind="human")


def _classify(parsed: dsn.Parsed) -> Classification:
    result = Classification(
        kind="human",
        message_id=parsed.header("message-id").strip(),
        original_message_id=parsed.original_message_id,
        referenced_ids=parsed.referenced_ids(),
        envelope_addresses=parsed.envelope_addresses(),
    )
    if parsed.feedback_report is not None:
        return _complaint(parsed, result)
    if "notificationtype" in parsed.first_text[:2000].lower():
        notification = ses.read_notification(parsed.first_text)
        if notification is not None:
            return _from_ses(notification, result)
    complaint_type = _informal_complaint(parsed)
    if complaint_type:
        parsed.feedback_report = {"feedback-type": complaint_type}
        return _complaint(parsed, result)
    recipients = bounced_recipients(parsed) or _list_rejection(parsed)
    if recipients:
        result.kind = "bounce"
        result.recipients = recipients
        return result
    headers = {name: parsed.header(name) for name in autoreply.AUTO_HEADERS}
    if autoreply.is_auto_reply(headers, parsed.subject, parsed.first_text):
        result.kind = "auto_reply"
        result.return_date = autoreply.return_date(
            parsed.subject + "\n" + parsed.first_text, parsed.header("date")
        )
        if not result.original_message_id:
            result.original_message_id = _first(parsed.referenced_ids())
        return result
    if not result.original_message_id:
        result.original_message_id = _first(parsed.referenced_ids())
    return result


# Complaints that are not ARF reports: (where the sign is, header, feedback type).
INFORMAL_COMPLAINTS = (
    # Microsoft's junk mail reporting program returns the original with this header.
    ("original", "x-hmxmroriginalrecipient", "abuse"),
    # Apple Mail's "unsubscribe" button sends a message with this header.
    ("message", "x-apple-unsubscribe", "opt-out"),
)


def _informal_complaint(parsed: dsn.Parsed) -> str:
    for where, header, feedback_type in INFORMAL_COMPLAINTS:
        headers = parsed.original_headers if where == "original" else None
        value = headers.get(header, "") if headers is not None else parsed.header(header)
        if value.strip():
            return feedback_type
    return ""


def _from_ses(notification: ses.Notification, result: Classification) -> Classification:
    result.kind = notification.kind
    result.feedback_type = notification.feedback_type
    result.original_message_id = notification.message_id or result.original_message_id
    for entry in notification.recipients:
        if notification.kind == "complaint":
            result.recipients.append(
                Recipient(entry.address, permanent=False, hard_bounce=False, reason="feedback")
            )
            continue
        status = dsn.status_code(entry.status) or dsn.status_code(entry.diagnostic)
        reply_code = dsn.reply_code(entry.diagnostic)
        reason = reason_for(entry.diagnostic, status, action=entry.action)
        result.recipients.append(
            Recipient(
                address=entry.address,
                permanent=notification.permanent and not status.startswith("2."),
                hard_bounce=_is_hard(reason, status, reply_code),
                reason=reason,
                dsn_status=status,
                smtp_reply_code=reply_code,
                diagnostic=entry.diagnostic[:1000],
                action=_action(
                    entry.action.lower(),
                    notification.permanent and not status.startswith("2."),
                    status,
                ),
            )
        )
    return result


def _list_rejection(parsed: dsn.Parsed) -> list[Recipient]:
    """A list manager refusing our post: a failed delivery to the list, never a dead
    address (the list is there; we may not post to it)."""
    rejection = lists.read(parsed)
    if rejection is None:
        return []
    return [
        Recipient(
            address=rejection.address,
            permanent=True,
            hard_bounce=False,
            reason=rejection.reason,
            diagnostic=rejection.text,
            action="failed",
        )
    ]


def _first(values: list[str]) -> str:
    return values[0] if values else ""


def _complaint(parsed: dsn.Parsed, result: Classification) -> Classification:
    report = parsed.feedback_report or {}
    result.kind = "complaint"
    result.feedback_type = (report.get("feedback-type") or "abuse").strip().lower()[:50]
    addresses = parsed.feedback_recipients or parsed.original_recipients()
    result.recipients = [
        Recipient(address=a, permanent=False, hard_bounce=False, reason="feedback")
        for a in dict.fromkeys(addresses)
    ]
    return result


# -- bounces ---------------------------------------------------------------------------------


def bounced_recipients(parsed: dsn.Parsed) -> list[Recipient]:
    """The failed recipients of a bounce, or [] when the message is not a bounce."""
    if parsed.delivery_status is not None:
        found = [
            recipient
            for fields in parsed.delivery_status
            if (recipient := _from_dsn_fields(fields, parsed)) is not None
        ]
        if found:
            return _unique(found)
    if not dsn.looks_like_bounce(parsed):
        return []
    return _unique(list(_from_text(parsed)))


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    seen: dict[str, Recipient] = {}
    for recipient in recipients:
        seen.setdefault(recipient.address, recipient)
    return list(seen.values())


def _from_dsn_fields(fields: dict[str, str], parsed: dsn.Parsed) -> Recipient | None:
    address = dsn.bare_address(fields.get("final-recipient", "")) or dsn.bare_address(
        fields.get("original-recipient", "")
    )
    if not address:
        return None
    diagnostic = dsn.unfold(fields.get("diagnostic-code", ""))
    kind, _, text = diagnostic.partition(";")
    if not _ or " " in kind.strip():
        kind, text = "", diagnostic
    context = text.strip() or parsed.context_for(address)
    status = dsn.status_code(fields.get("status", ""))
    if not status or status.endswith(".0.0"):
        # "Status: 5.0.0" says only "failed"; the reply text may say more ("5.1.1 …").
        status = dsn.status_code(text) or status
    action = fields.get("action", "").strip().lower()
    # No Diagnostic-Code: the words around the address in the human part are the report's
    # prose (banners, disclaimers), weaker than a Status whose code names what failed.
    words_decide = bool(text.strip()) or status not in SPECIFIC_STATUSES
    return _recipient(
        address, context, status, action, parsed, kind.strip().lower(), words_decide=words_decide
    )


def _from_text(parsed: dsn.Parsed) -> Iterator[Recipient]:
    for address in parsed.failed_addresses():
        context = parsed.context_for(address)
        yield _recipient(address, context, dsn.status_code(context), "", parsed)


def _recipient(
    address: str,
    context: str,
    status: str,
    action: str,
    parsed: dsn.Parsed,
    diagnostic_type: str = "",
    *,
    words_decide: bool = True,
) -> Recipient:
    reply_code = dsn.reply_code(context)
    if not status and parsed.delivery_status is None:
        status = dsn.status_code(parsed.report_text)
    if not reply_code:
        reply_code = dsn.reply_code(parsed.report_text) if not context else ""
    permanent = _is_permanent(action, status, reply_code, parsed)
    command = dsn.smtp_command(context) or parsed.report_command
    reason = reason_for(
        context if words_decide else "",
        status,
        action=action,
        command=command,
        diagnostic_type=diagnostic_type,
        fallback_text=parsed.shared_text,
        domain=address.rpartition("@")[2],
    )
    return Recipient(
        address=address,
        permanent=permanent,
        hard_bounce=_is_hard(reason, status, reply_code),
        reason=reason,
        dsn_status=status,
        smtp_reply_code=reply_code,
        diagnostic=" ".join(context.split())[:1000],
        action=_action(action, permanent, status),
    )


ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


def _action(written: str, permanent: bool, status: str) -> str:
    """The report's Action as one of RFC 3464's words; without one, what it amounts to."""
    word = written.split()[0].strip(";,.") if written.split() else ""
    if word in ACTIONS:
        return word
    if status.startswith("2."):
        return "delivered"
    return "failed" if permanent else "delayed"


def _is_permanent(action: str, status: str, reply_code: str, parsed: dsn.Parsed) -> bool:
    """A failure the sender gave up on (5xx, or Action: failed); a delay is temporary."""
    if action.startswith(("delayed", "relayed", "delivered", "expanded")):
        return False
    if action.startswith("failed"):
        return True
    if status.startswith("4") or reply_code.startswith("4"):
        return dsn.says_gave_up(parsed.report_text)
    return True


def _is_hard(reason: str, status: str, reply_code: str) -> bool:
    """Is the address itself dead (what puts it on the suppression list)?"""
    if reason in HARD_REASONS:
        return True
    if reason in HARD_WHEN_PERMANENT:
        return not (status or reply_code).startswith("4")
    return False
