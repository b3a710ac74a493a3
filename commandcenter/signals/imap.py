"""Polling reps' mailboxes over IMAP for replies, bounces and auto-replies (`imap-poll`).

Each ImapAccount remembers the highest UID applied (with the folder's UIDVALIDITY: when the
server renumbers the folder, it starts over, and the dedupe keys keep that harmless). A
message is applied before its UID is recorded, so a crash in between only means the message
is fetched and applied once more, which changes nothing. Messages are fetched with
BODY.PEEK so the rep's unread mail stays unread.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
from dataclasses import dataclass

from django.utils import timezone

from commandcenter.signals.apply import apply_inbound
from commandcenter.signals.models import ImapAccount

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30
# At most this many messages per account and poll: a huge backlog drains over several polls.
BATCH = 200


class ImapProblem(Exception):
    """The server refused us or answered what we did not expect; says what, for the rep."""


@dataclass
class PollResult:
    account_id: int
    applied: int = 0
    error: str = ""


def poll_all() -> list[PollResult]:
    return [poll_account(account) for account in ImapAccount.objects.order_by("pk")]


def poll_account(account: ImapAccount) -> PollResult:
    """Fetch and apply the account's new messages; a failure is recorded on the account."""
    result = PollResult(account.pk)
    try:
        result.applied = _poll(account)
    except (ImapProblem, imaplib.IMAP4.error, OSError) as error:
        result.error = f"{type(error).__name__}: {error}"[:1000]
        logger.warning("IMAP poll of %s failed: %s", account, result.error)
    ImapAccount.objects.filter(pk=account.pk).update(
        last_error=result.error, last_polled_at=timezone.now()
    )
    return result


def _poll(account: ImapAccount) -> int:
    client = _connect(account)
    try:
        _expect(client.login(account.username, account.password), "login")
        _expect(client.select(_quoted(account.folder), readonly=True), "select")
        _start_over_if_renumbered(account, client)
        applied = 0
        for uid in _new_uids(account, client):
            raw = _fetch(client, uid)
            if raw is not None:
                apply_inbound(raw, source=f"imap:{account.pk}")
                applied += 1
            ImapAccount.objects.filter(pk=account.pk).update(last_uid=uid)
            account.last_uid = uid
        return applied
    finally:
        # The connection is going away anyway: a failed goodbye changes nothing.
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def _connect(account: ImapAccount) -> imaplib.IMAP4:
    if account.ssl:
        context = ssl.create_default_context()
        return imaplib.IMAP4_SSL(
            account.host, account.port, ssl_context=context, timeout=TIMEOUT_SECONDS
        )
    return imaplib.IMAP4(account.host, account.port, timeout=TIMEOUT_SECONDS)


def _expect(answer: tuple[str, list], what: str) -> list:
    status, data = answer
    if status != "OK":
        raise ImapProblem(f"{what} refused: {data!r}"[:300])
    return data


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _start_over_if_renumbered(account: ImapAccount, client: imaplib.IMAP4) -> None:
    values = client.response("UIDVALIDITY")[1]
    try:
        validity = int(values[0]) if values and values[0] else 0
    except (TypeError, ValueError):
        validity = 0
    if validity != account.uid_validity:
        account.uid_validity, account.last_uid = validity, 0
        ImapAccount.objects.filter(pk=account.pk).update(uid_validity=validity, last_uid=0)


def _new_uids(account: ImapAccount, client: imaplib.IMAP4) -> list[int]:
    data = _expect(client.uid("SEARCH", f"UID {account.last_uid + 1}:*"), "search")
    words = b" ".join(part for part in data if isinstance(part, bytes)).split()
    # "N:*" always matches the last message, even one older than N: keep only new ones.
    uids = sorted({int(word) for word in words if word.isdigit()} - {0})
    return [uid for uid in uids if uid > account.last_uid][:BATCH]


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    data = _expect(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "fetch")
    for part in data:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    return None  # expunged in the meantime
