"""A mailing-list manager turning our message away: "you are not a member", "posting not
allowed", a loop alert. Such a notice is no DSN and often carries `Auto-Submitted:
auto-replied`, yet it is a failed delivery to the list's address, not a person's reply.

Told by structure first (who sent it: a list manager's address or headers), then by what it
says, grouped by meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commandcenter.signals import dsn

# Headers that list managers (Mailman, Sympa, LISTSERV, fml, ezmlm…) add to what they send.
LIST_HEADERS = (
    "list-id",
    "list-post",
    "list-help",
    "x-mailman-version",
    "x-mlserver",
    "x-ml-name",
    "x-listserver",
    "x-list-server",
    "x-sympa-to",
    "x-loop",
)
# A list manager's own address: "team-owner@", "team-request@", "owner-team@", "listserv@"…
LIST_MANAGER = re.compile(
    r"^(?:owner-|(?:listserv|majordomo|mailman|sympa|ezmlm|lyris|listproc|fml)\b)|"
    r"-(?:owner|request|admin|bounces?)(?:\+|$)",
    re.I,
)
# The list's own address from its manager's: strip what the manager adds.
MANAGER_PART = re.compile(r"^owner-|-(?:owner|request|admin|bounces?)(?:\+.*)?$", re.I)

# What list managers say, by meaning: (reason, pattern over lower-cased text).
NOTICES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern))
    for reason, pattern in (
        (
            "rejected",
            # The sender is not allowed to post: not a member, members only, a closed list.
            r"\bnot (?:a |an )?(?:member|subscriber)s?\b|\bnot subscribed\b|\bnon-?members?\b|"
            r"\bmembers?[- ]only\b|\bonly (?:list )?(?:members|subscribers)\b|"
            r"\bnot (?:allowed|permitted|authori[sz]ed) to (?:post|send|write)\b|"
            r"\b(?:must|need to) (?:be )?(?:a member|subscribed?)\b|"
            r"\bno(?:t have)? permission to post\b|\bclosed (?:mailing )?list\b|"
            r"\bposting (?:is )?(?:restricted|not allowed|rejected)\b|\brejected posting\b",
        ),
        ("systemerror", r"\bloop (?:alert|detected)\b|\bduplicated message-id\b|\bmail loop\b"),
    )
)


@dataclass(frozen=True)
class ListRejection:
    address: str  # the list's address (where our message went)
    reason: str
    text: str  # the notice's words (the diagnostic)


def read(parsed: dsn.Parsed) -> ListRejection | None:
    """The list manager's rejection this message is, or None."""
    sender = dsn.bare_address(parsed.header("from"))
    local_part = sender.partition("@")[0]
    from_manager = bool(LIST_MANAGER.search(local_part))
    # A message that only passed through a list (its headers) is a person's unless it says
    # it is a machine's notice: people write "not a member" to lists too.
    if not from_manager and not (
        any(parsed.header(name) for name in LIST_HEADERS) and _is_a_notice(parsed)
    ):
        return None
    text = " ".join((parsed.subject + "\n" + parsed.report_text[:6000]).lower().split())
    for reason, pattern in NOTICES:
        found = pattern.search(text)
        if found is not None:
            address = _list_address(parsed, sender if from_manager else "")
            if address:
                return ListRejection(address, reason, _sentence_around(text, found.start()))
    return None


NOTICE_SUBJECT = re.compile(
    r"reject|refused|denied|not delivered|returned|moderat|held|bounce|fail|not allowed|"
    r"alert|error|undeliver",
    re.I,
)


def _is_a_notice(parsed: dsn.Parsed) -> bool:
    automated = parsed.header("auto-submitted").strip().lower() not in ("", "no")
    return (
        automated
        or parsed.header("return-path").strip() == "<>"
        or bool(NOTICE_SUBJECT.search(parsed.subject))
    )


def _list_address(parsed: dsn.Parsed, manager: str) -> str:
    """Where our message went: the list address derived from its manager's when the notice
    names it, else the original's To, else the derived address."""
    derived = ""
    if manager:
        local_part, _, domain = manager.partition("@")
        derived = f"{MANAGER_PART.sub('', local_part)}@{domain}" if domain else ""
    named = (parsed.report_text + " " + " ".join(parsed.original_headers.values())).lower()
    if derived and derived in named:
        return derived
    originals = parsed.original_recipients()
    return originals[0] if originals else derived


def _sentence_around(text: str, at: int) -> str:
    start = max(text.rfind(". ", 0, at) + 2, 0) if text.rfind(". ", 0, at) >= 0 else 0
    end = text.find(". ", at)
    return text[start : end + 1 if end >= 0 else len(text)][:300]
