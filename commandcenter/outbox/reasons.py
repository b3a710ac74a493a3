"""Reasons in the rep's language: the English reasons our code stores, explained when shown.

Reasons are stored in English (one stable text for the API, the logs and every reader);
`explain()` matches each against the shapes our code writes them in (the sender, the queue,
bounce and complaint handling, the suppression rules, compose) and gives it back translated,
with the part that is someone else's words — a mail server's reply, a suppression's note — kept
as it was and marked as a quote. A reason of no known shape is shown as it is, as a quote.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Explained:
    """A reason as the rep reads it: our words (translated), then a quote (as it came)."""

    text: str
    quote: str = ""

    def __str__(self) -> str:
        return f"{self.text} {self.quote}".strip()

    def html(self) -> SafeString:
        if not self.quote:
            return format_html("{}", self.text)
        if not self.text:
            return format_html('<q class="quote" translate="no">{}</q>', self.quote)
        return format_html('{} <q class="quote" translate="no">{}</q>', self.text, self.quote)


# sisimai's vocabulary (signals/reasons.py), in words.
BOUNCE_REASONS: dict[str, Promise] = {
    "userunknown": gettext_lazy("no such mailbox"),
    "hostunknown": gettext_lazy("no such domain"),
    "hasmoved": gettext_lazy("the address has moved"),
    "mailboxfull": gettext_lazy("mailbox full"),
    "mesgtoobig": gettext_lazy("message too big"),
    "exceedlimit": gettext_lazy("over a size limit"),
    "filtered": gettext_lazy("filtered by the recipient"),
    "rejected": gettext_lazy("our sender address was rejected"),
    "blocked": gettext_lazy("blocked by the recipient's server"),
    "spamdetected": gettext_lazy("taken for spam"),
    "virusdetected": gettext_lazy("taken for a virus"),
    "policyviolation": gettext_lazy("against the recipient's policy"),
    "securityerror": gettext_lazy("a security check failed"),
    "authfailure": gettext_lazy("sender authentication failed (SPF, DKIM or DMARC)"),
    "requireptr": gettext_lazy("our server has no reverse DNS"),
    "notcompliantrfc": gettext_lazy("the message breaks the email standards"),
    "badreputation": gettext_lazy("our server's reputation is too low"),
    "speeding": gettext_lazy("too much mail too fast"),
    "toomanyconn": gettext_lazy("too many connections"),
    "suspend": gettext_lazy("the mailbox is suspended"),
    "norelaying": gettext_lazy("relaying refused"),
    "expired": gettext_lazy("delivery took too long"),
    "networkerror": gettext_lazy("a network error"),
    "systemerror": gettext_lazy("a server error"),
    "systemfull": gettext_lazy("the recipient's server is full"),
    "contenterror": gettext_lazy("the content was refused"),
    "mailererror": gettext_lazy("a mail program error"),
    "syntaxerror": gettext_lazy("a protocol error"),
    "failedstarttls": gettext_lazy("a secure connection could not be made"),
    "notaccept": gettext_lazy("the domain accepts no mail"),
    "onhold": gettext_lazy("undecided"),
    "undefined": gettext_lazy("no reason given"),
    "delivered": gettext_lazy("delivered"),
}

SMTP_STAGES: dict[str, Promise] = {
    "MAIL FROM": gettext_lazy("when we named the sender"),
    "RCPT TO": gettext_lazy("when we named the recipient"),
    "DATA": gettext_lazy("after receiving the message"),
    "greeting": gettext_lazy("when we connected"),
    "connecting": gettext_lazy("when we connected"),
}

Explainer = Callable[[re.Match[str]], Explained]


def _unsubscribed(m: re.Match[str]) -> Explained:
    return Explained(_("The recipient unsubscribed on %(date)s.") % {"date": m["date"]})


def _do_not_contact(m: re.Match[str]) -> Explained:
    if m["note"]:
        return Explained(_("The recipient is marked do-not-contact:"), m["note"])
    return Explained(_("The recipient is marked do-not-contact."))


def _domain_blocked(m: re.Match[str]) -> Explained:
    inner = explain(m["q"])
    text = _("The recipient's domain %(domain)s is blocked:") % {"domain": m["domain"]}
    return Explained(f"{text} {inner.text}".strip(), inner.quote)


def _suppressed(m: re.Match[str]) -> Explained:
    inner = explain(m["q"])
    text = _("The address is on the suppression list since %(date)s:") % {"date": m["date"]}
    return Explained(f"{text} {inner.text}".strip(), inner.quote)


def _merge(m: re.Match[str]) -> Explained:
    fields = m["fields"].split(", ")
    who = m.groupdict().get("people") or _("this recipient")
    return Explained(
        ngettext(
            "Merge field %(fields)s is empty for %(people)s.",
            "Merge fields %(fields)s are empty for %(people)s.",
            len(fields),
        )
        % {"fields": m["fields"], "people": who}
    )


def _refused(m: re.Match[str]) -> Explained:
    stage = SMTP_STAGES.get(m["stage"], m["stage"])
    return Explained(_("The mail server refused it %(stage)s:") % {"stage": stage}, m["q"])


def _gave_up(m: re.Match[str]) -> Explained:
    inner = explain(m["rest"])
    count = int(m["n"])
    text = ngettext("Gave up after %(n)d attempt:", "Gave up after %(n)d attempts:", count) % {
        "n": count
    }
    return Explained(f"{text} {inner.text}".strip(), inner.quote)


def _temporary(m: re.Match[str]) -> Explained:
    inner = explain(m["rest"])
    text = _(
        "Not accepted yet; will try again at %(when)s UTC (attempt %(n)s of at most %(max)s):"
    ) % {"when": m["when"], "n": m["n"], "max": m["max"]}
    return Explained(f"{text} {inner.text}".strip(), inner.quote)


def _delivery_unknown(m: re.Match[str]) -> Explained:
    return Explained(
        _(
            "Delivery unknown: the sender stopped while handing this email to the mail server "
            "at %(when)s UTC; it may or may not have been delivered. Use Retry Send to send "
            "it again."
        )
        % {"when": m["when"]}
    )


def _late(m: re.Match[str]) -> Explained:
    return Explained(
        _(
            "It missed its send time by %(late)s (the sender was not running); use Retry Send "
            "to send it now."
        )
        % {"late": m["late"]}
    )


def _not_built(m: re.Match[str]) -> Explained:
    return Explained(_("The message could not be built:"), m["q"])


def _unreachable(kind: str) -> Explainer:
    def explainer(m: re.Match[str]) -> Explained:
        messages = {
            "refused": _("The mail server at %(host)s refused the connection."),
            "timeout": _("The mail server at %(host)s did not answer in time."),
            "closed": _("The mail server at %(host)s closed the connection:"),
            "other": _("We could not talk to the mail server at %(host)s:"),
        }
        return Explained(messages[kind] % {"host": m["host"]}, m.groupdict().get("q") or "")

    return explainer


def _bounce(m: re.Match[str]) -> Explained:
    why = BOUNCE_REASONS.get(m["code"])
    if why is None:
        return Explained("", m.group(0))
    if m["hard"]:
        text = _("Bounced for good (%(why)s):") % {"why": why}
    else:
        text = _("Bounced (%(why)s):") % {"why": why}
    return Explained(text, m["q"])


def _complaint(m: re.Match[str]) -> Explained:
    return Explained(_("The recipient marked it as spam."), m["type"] or "")


def _lease(m: re.Match[str]) -> Explained:
    return Explained(_("The mail server accepted it after the sender's lease had run out."))


def _unsubscribed_via(m: re.Match[str]) -> Explained:
    return Explained(_("The recipient unsubscribed."), m["via"])


SHAPES: tuple[tuple[re.Pattern[str], Explainer], ...] = tuple(
    (re.compile(pattern, re.DOTALL), explainer)
    for pattern, explainer in (
        (r"Recipient unsubscribed on (?P<date>\d{4}-\d{2}-\d{2})\.", _unsubscribed),
        (r"Recipient is marked do-not-contact(?:\.|: (?P<note>.*))", _do_not_contact),
        (r"Recipient's domain (?P<domain>\S+) is blocked: (?P<q>.*)", _domain_blocked),
        (r"Recipient is on the suppression list since (?P<date>\S+): (?P<q>.*)", _suppressed),
        (r"Merge field (?P<fields>.+?) is empty for (?P<people>.+)\.", _merge),
        (r"Merge field (?P<fields>.+?) (?:is empty|cannot be filled) for this recipient\.?",
         _merge),
        (r"(?P<q>\d{3}\b.*) \(at (?P<stage>MAIL FROM|RCPT TO|DATA|greeting|connecting)\)",
         _refused),
        (r"[Gg]ave up after (?P<n>\d+) attempts?: (?P<rest>.*)", _gave_up),
        (r"Temporary problem: (?P<rest>.*); will retry at (?P<when>[\d-]+ [\d:]+) UTC "
         r"\(attempt (?P<n>\d+) of at most (?P<max>\d+)\)\.", _temporary),
        (r"delivery unknown: the sender stopped while handing this email to the mail server "
         r"at (?P<when>.+?) UTC; .*", _delivery_unknown),
        (r"missed its send time by (?P<late>.+?) \(the sender was not running\).*", _late),
        (r"The message cannot be built: (?P<q>.*)", _not_built),
        (r"connection refused by the mail server at (?P<host>\S+)", _unreachable("refused")),
        (r"the mail server at (?P<host>\S+) did not answer in time", _unreachable("timeout")),
        (r"the mail server at (?P<host>\S+) closed the connection \((?P<q>.*)\)",
         _unreachable("closed")),
        (r"could not talk to the mail server at (?P<host>\S+?): (?P<q>.*)",
         _unreachable("other")),
        (r"(?:Hard|Soft) bounce \((?P<code>[a-z]+)\): (?P<q>.*?)(?P<hard>)", _bounce),
        (r"(?P<code>[a-z]+): (?P<q>.*?)(?P<hard> \(hard bounce\))?", _bounce),
        (r"The recipient marked it as spam(?: \((?P<type>.*)\))?\.", _complaint),
        (r"The mail server accepted it after the sender's lease had run out\.", _lease),
        (r"The recipient unsubscribed through (?P<via>.+)\.", _unsubscribed_via),
    )
)  # fmt: skip


def explain(reason: str) -> Explained:
    """The reason in the active language, with any quoted words kept as they came."""
    reason = (reason or "").strip()
    if not reason:
        return Explained("")
    return _explain(reason, get_language() or "")


# The same few reasons fill a folder page (a bounce reason, a server's refusal): each is matched
# against the shapes once per language.
@functools.lru_cache(maxsize=4096)
def _explain(reason: str, language: str) -> Explained:
    for pattern, explainer in SHAPES:
        match = pattern.fullmatch(reason)
        if match is not None:
            found = explainer(match)
            if found.text or found.quote:
                return found
    return Explained("", reason)


def explain_text(reason: str) -> str:
    """explain() as one line of plain text (for flash messages)."""
    return str(explain(reason))
