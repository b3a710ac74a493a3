"""The SMTP listener for the bounce domain (`commandcenter inbound-smtp`).

It accepts mail only for addresses at BOUNCE_DOMAIN (it is no relay), and applies each
message with the RCPT TO addresses as the VERP hint. Our own passing trouble (a locked
database) answers 451 so the sending server tries again; anything it has stored gets 250.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from commandcenter.signals.apply import apply_inbound, is_temporary_failure

logger = logging.getLogger(__name__)

# Bigger than any bounce or reply we care about; the original's attachments are not needed.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class BounceDomainHandler:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain != settings.BOUNCE_DOMAIN.lower():
            return "550 5.7.1 Relaying denied: this server only receives for its bounce domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, _apply, raw, envelope)
        except DatabaseError as error:
            if not is_temporary_failure(error):
                logger.exception("inbound message could not be applied")
                return "554 5.3.0 Message could not be processed"
            logger.warning("inbound message deferred: %s", error)
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 OK: message received"


def _apply(raw: bytes, envelope: Envelope) -> None:
    # Runs in a worker thread: it has its own database connection, closed when stale.
    close_old_connections()
    try:
        apply_inbound(
            raw,
            source="smtp",
            # aiosmtpd spells the null sender of a DSN "<>"; the pipe passes it empty.
            envelope_sender="" if envelope.mail_from == "<>" else envelope.mail_from or "",
            envelope_recipient=" ".join(envelope.rcpt_tos),
        )
    finally:
        close_old_connections()


def listener(host: str, port: int, **kwargs: Any) -> Controller:
    """A started-on-demand SMTP server (call .start() and .stop())."""
    return Controller(
        BounceDomainHandler(),
        hostname=host,
        port=port,
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        **kwargs,
    )
