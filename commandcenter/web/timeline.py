"""An email's timeline as a rep reads it: "Sent to Pat · accepted by mail.example.com (250 …)",
"Opened · iPhone, Mail app", "Opened by a link scanner (not counted)".

Each Event becomes one entry: a sentence in the rep's language (with any words that came from
outside — a server's reply, a reason — quoted as they came) and, for a Details toggle, the raw
facts: field names, worker ids, payloads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from commandcenter.outbox.labels import status_label
from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.reasons import Explained, explain
from commandcenter.outbox.states import Status
from commandcenter.web.when import formatted

# How long a quoted payload may be before it is cut (the Details show it all).
QUOTE_CHARS = 300


@dataclass
class Entry:
    at: str
    iso: str
    sentence: SafeString
    # good, bad, muted (not counted, machines), or "" (neutral)
    tone: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)
    payload: str = ""


def timeline(email: Email, events: Iterable[Event]) -> list[Entry]:
    name = email.person.full_name or email.to_address
    return [entry(email, event, name) for event in events]


def entry(email: Email, event: Event, name: str) -> Entry:
    describe = DESCRIBERS.get(event.kind)
    if describe is None:
        sentence, tone = _other(event), ""
    else:
        sentence, tone = describe(event, name)
    details = [(_("What happened"), event.kind)]
    if event.from_status or event.to_status:
        move = f"{status_label(event.from_status)} → {status_label(event.to_status)}"
        details.append((_("Folder"), move if event.from_status else status_label(event.to_status)))
    if event.detail:
        details.append((_("Recorded as"), event.detail))
    data = event.data if isinstance(event.data, dict) else {"value": event.data}
    details += [(str(key), _text(value)) for key, value in data.items()]
    return Entry(
        at=formatted(event.created_at, "seconds"),
        iso=event.created_at.isoformat(),
        sentence=sentence,
        tone=tone,
        details=details,
        payload=event.payload,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _with(text: str, explained: Explained | None = None, quote: str = "") -> SafeString:
    """Our sentence, then an explained reason, then words quoted as they came."""
    parts: list[SafeString] = [format_html("{}", text)]
    if explained is not None and (explained.text or explained.quote):
        parts.append(explained.html())
    if quote:
        cut = quote if len(quote) <= QUOTE_CHARS else quote[:QUOTE_CHARS] + "…"
        parts.append(format_html('<q class="quote" translate="no">{}</q>', cut))
    return SafeString(" ".join(parts))


Describer = Callable[[Event, str], tuple[SafeString, str]]


def _created(event: Event, name: str) -> tuple[SafeString, str]:
    if event.to_status == Status.DRAFT:
        return _with(_("Saved as a draft.")), ""
    return _with(_("Written and scheduled.")), ""


def _failed(event: Event, name: str) -> tuple[SafeString, str]:
    return _with(_("Not sent:"), explain(event.detail)), "bad"


def _sent(event: Event, name: str) -> tuple[SafeString, str]:
    data = event.data if isinstance(event.data, dict) else {}
    reply = str(data.get("smtp_reply") or "")
    if not reply and event.payload:
        reply = event.payload
    if event.from_status == event.to_status:
        # A late proof of delivery, kept beside "delivery unknown".
        return _with(_("The mail server had accepted it after all."), quote=reply), "good"
    server = str(data.get("smtp_server") or "")
    if reply and server:
        text = _("Sent to %(name)s · accepted by %(server)s:") % {"name": name, "server": server}
        return _with(text, quote=reply), "good"
    if reply:
        text = _("Sent to %(name)s · accepted by the mail server:") % {"name": name}
        return _with(text, quote=reply), "good"
    if data.get("anymail_status"):
        return _with(_("Sent to %(name)s · accepted by the email provider.") % {"name": name}), (
            "good"
        )
    return _with(_("Sent to %(name)s.") % {"name": name}), "good"


def _deferred(event: Event, name: str) -> tuple[SafeString, str]:
    return _with(_("Not accepted yet; the sender will try again."), explain(event.detail)), ""


def _bounced(event: Event, name: str) -> tuple[SafeString, str]:
    explained = explain(event.detail)
    if explained.text:
        # Bounce reasons say "Bounced (…)" themselves.
        return explained.html(), "bad"
    return _with(_("Bounced:"), explained), "bad"


def _complained(event: Event, name: str) -> tuple[SafeString, str]:
    return _with(_("%(name)s marked it as spam.") % {"name": name}), "bad"


Words = tuple[tuple[re.Pattern[str], Promise], ...]


def _words(pairs: Iterable[tuple[str, Promise]], flags: int = 0) -> Words:
    """A table of (pattern, words): the first pattern found in a text names it."""
    return tuple((re.compile(pattern, flags), words) for pattern, words in pairs)


def _first(table: Words, text: str) -> str:
    return next((str(words) for pattern, words in table if pattern.search(text)), "")


# A machine's visit, from the reason tracking gave it (tracking/verdict.py): what it was.
MACHINES = _words(
    [
        (r"Privacy Protection", gettext_lazy("Apple Mail Privacy Protection")),
        (r"prefetch", gettext_lazy("a prefetch as the email arrived")),
        (r"scanner|Safe Links|security gateway|Proofpoint|Mimecast|Barracuda|HEAD request",
         gettext_lazy("a link scanner")),
        (r"preview", gettext_lazy("a link preview")),
        (r"crawler", gettext_lazy("a web crawler")),
    ],
    re.IGNORECASE,
)  # fmt: skip
# A person's device and mail client or browser, from the user agent.
DEVICES = _words(
    [
        (r"iPhone", gettext_lazy("iPhone")),
        (r"iPad", gettext_lazy("iPad")),
        (r"Android", gettext_lazy("Android")),
        (r"Macintosh|Mac OS X", gettext_lazy("Mac")),
        (r"Windows", gettext_lazy("Windows")),
        (r"Linux|X11", gettext_lazy("Linux")),
    ]
)
APPS = _words(
    [
        (r"Microsoft Outlook|ms-office|MSOffice|Outlook-", gettext_lazy("Outlook")),
        (r"Thunderbird", gettext_lazy("Thunderbird")),
        (r"GoogleImageProxy|Gmail", gettext_lazy("Gmail")),
        (r"YahooMailProxy", gettext_lazy("Yahoo Mail")),
        (r"Edg/|Edge/", gettext_lazy("Edge")),
        (r"Firefox/|FxiOS", gettext_lazy("Firefox")),
        (r"Chrome/|CriOS/", gettext_lazy("Chrome")),
        (r"Version/[\d.]+.*Safari/", gettext_lazy("Safari")),
        (r"AppleWebKit/[\d.]+ \(KHTML, like Gecko\)(?: Mobile/\w+)?$", gettext_lazy("Mail app")),
    ]
)


def device_of(user_agent: str) -> str:
    """ "iPhone, Mail app", "Windows, Outlook", "Gmail (device hidden)"; "" when unknown."""
    app = _first(APPS, user_agent)
    if "ImageProxy" in user_agent or "MailProxy" in user_agent:
        return _("%(app)s (the device is hidden)") % {"app": app}
    device = _first(DEVICES, user_agent)
    return ", ".join(part for part in (device, app) if part)


def _hit(event: Event, name: str, *, human: str, machine: str) -> tuple[SafeString, str]:
    data = event.data if isinstance(event.data, dict) else {}
    reason = str(data.get("reason") or event.detail or "")
    if data.get("excluded"):
        return _with(_("%(what)s by you (not counted).") % {"what": human}), "muted"
    if data.get("machine"):
        what = _first(MACHINES, reason) or _("an automated client")
        return _with(machine % {"what": what}), "muted"
    device = device_of(str(data.get("user_agent") or ""))
    url = str(data.get("url") or "")
    text = f"{human} · {device}" if device else human
    return _with(text, quote=url), "good"


def _opened(event: Event, name: str) -> tuple[SafeString, str]:
    return _hit(event, name, human=_("Opened"), machine=_("Opened by %(what)s (not counted)."))


def _clicked(event: Event, name: str) -> tuple[SafeString, str]:
    return _hit(
        event, name, human=_("Clicked"), machine=_("Link followed by %(what)s (not counted).")
    )


def _replied(event: Event, name: str) -> tuple[SafeString, str]:
    said = "" if event.detail in {"", "Replied"} else event.detail
    return _with(_("%(name)s replied.") % {"name": name}, quote=said), "good"


def _auto_replied(event: Event, name: str) -> tuple[SafeString, str]:
    data = event.data if isinstance(event.data, dict) else {}
    back = data.get("return_date")
    if back:
        return _with(_("Out-of-office reply: back on %(date)s.") % {"date": back}), ""
    return _with(_("Out-of-office reply.")), ""


def _simple(text: Callable[[], str], tone: str = "") -> Describer:
    return lambda event, name: (_with(text()), tone)


def _other(event: Event) -> SafeString:
    if event.kind.startswith("esp_"):
        return _with(_("The email provider reported:"), quote=event.kind.removeprefix("esp_"))
    return _with(_("Recorded:"), quote=event.kind)


DESCRIBERS: dict[str, Describer] = {
    "created": _created,
    "failed": _failed,
    "scheduled": _simple(lambda: _("Scheduled.")),
    "unscheduled": _simple(lambda: _("Moved back to Drafts.")),
    "edited": _simple(lambda: _("Edited.")),
    "claimed": _simple(lambda: _("The sender picked it up.")),
    "sent": _sent,
    "deferred": _deferred,
    "recovered": _simple(
        lambda: _("The sender stopped before handing it over; it will be sent again.")
    ),
    "retried": _simple(lambda: _("Sent again with Retry Send.")),
    "archived": _simple(lambda: _("Archived: tracking is off.")),
    "unarchived": _simple(lambda: _("Unarchived: tracking is on again.")),
    "deleted": _simple(lambda: _("Deleted.")),
    "bounced": _bounced,
    "deferred_bounce": lambda event, name: (
        _with(_("Delivery is delayed:"), explain(event.detail)),
        "",
    ),
    "delivery_report": _simple(lambda: _("Delivered to the recipient's mailbox."), "good"),
    "delivered": _simple(lambda: _("Delivered to the recipient's mailbox."), "good"),
    "complained": _complained,
    "opened": _opened,
    "clicked": _clicked,
    "replied": _replied,
    "auto_replied": _auto_replied,
    "unsubscribed": lambda event, name: (
        _with(_("%(name)s unsubscribed.") % {"name": name}),
        "bad",
    ),
    "inbound": _simple(lambda: _("Mail came to the bounce address that is no report or reply.")),
}
