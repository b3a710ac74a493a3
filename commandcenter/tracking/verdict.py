"""Human or machine: the verdict on one open or click, with the reason a person can read.

`verdict()` is a pure function of the hit and the email's recent hits; the rules are the
tables below, checked in order, first match wins. Image proxies that fetch the pixel when
the recipient opens the email (Gmail, Yahoo) are human opens whose device is hidden;
prefetchers (Apple Mail Privacy Protection), link scanners, crawlers and preview bots are
machines. Our mail-specific rules come first; the web's crawlers, bots and scripts are told
after them by `bots.py` (a maintained list of bot patterns, then our rules of shape).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from commandcenter.tracking import bots

OPEN = "open"
CLICK = "click"
BOTH = frozenset({OPEN, CLICK})


@dataclass(frozen=True)
class Hit:
    """One request to the pixel (`open`) or to a tracked link (`click`)."""

    kind: str
    method: str
    user_agent: str
    ip: str
    headers: Mapping[str, str] = field(default_factory=dict)
    # None: the email has no delivery time (it should not happen for a tracked email).
    seconds_since_sent: float | None = None
    link: str = ""
    links_in_email: int = 0
    by_sender: bool = False


@dataclass(frozen=True)
class RecentHit:
    """Another hit on the same email, `seconds_ago` before this one (negative: after it, when
    hits are judged in a batch)."""

    kind: str
    seconds_ago: float
    link: str = ""


@dataclass(frozen=True)
class Verdict:
    machine: bool
    reason: str
    # The sender's own opens and clicks: kept on the timeline, never counted.
    excluded: bool = False

    @property
    def counts(self) -> bool:
        """Whether it adds to the email's opens or clicks: human events only."""
        return not self.machine and not self.excluded


@dataclass(frozen=True)
class UserAgentRule:
    pattern: re.Pattern[str]
    machine: bool
    reason: str
    kinds: frozenset[str] = BOTH
    # Lower-case words one of which any match holds ([]: always try the pattern). A
    # substring test is far cheaper than a case-blind search, and most agents have none.
    words: tuple[str, ...] = ()

    def matches(self, user_agent: str, lowered: str) -> bool:
        if self.words and not any(word in lowered for word in self.words):
            return False
        return self.pattern.search(user_agent) is not None


def _ua(pattern: str, machine: bool, reason: str, kinds: frozenset[str] = BOTH) -> UserAgentRule:
    words = tuple(bots.required_words(pattern))
    return UserAgentRule(re.compile(pattern, re.IGNORECASE), machine, reason, kinds, words)


# First match wins: the human image proxies come before anything that could match them.
USER_AGENT_RULES: tuple[UserAgentRule, ...] = (
    _ua(
        r"GoogleImageProxy",
        False,
        "Gmail's image proxy fetched the pixel as the recipient opened the email: "
        "a real open; Google hides the device",
    ),
    _ua(
        r"YahooMailProxy",
        False,
        "Yahoo Mail's image proxy fetched the pixel as the recipient opened the email: "
        "a real open; Yahoo hides the device",
    ),
    _ua(
        r"^Mozilla/5\.0$",
        True,
        "Apple Mail Privacy Protection prefetch (its proxy sends a bare 'Mozilla/5.0')",
        frozenset({OPEN}),
    ),
    _ua(
        r"Microsoft Office Existence Discovery|Microsoft Office Protocol Discovery",
        True,
        "Microsoft Office checking that the link exists (no one clicked)",
    ),
    _ua(r"BingPreview|MicrosoftPreview", True, "Microsoft link preview / Safe Links scanner"),
    _ua(r"Proofpoint|URLDefense|ppops", True, "Proofpoint URL Defense link scanner"),
    _ua(r"Mimecast", True, "Mimecast link scanner"),
    _ua(r"Barracuda", True, "Barracuda link scanner"),
    _ua(
        r"Symantec|Forcepoint|Websense|Sophos|Trend ?Micro|Zscaler|IronPort|FireEye|"
        r"Check ?Point|Cloudmark|SpamTitan|MailScanner|Fortinet|FortiGuard",
        True,
        "an email security gateway scanning links",
    ),
    _ua(
        r"Slackbot|Slack-ImgProxy|facebookexternalhit|Facebot|Twitterbot|LinkedInBot|"
        r"WhatsApp|TelegramBot|Discordbot|SkypeUriPreview|redditbot|Embedly|Pinterest|"
        r"vkShare|Iframely|Google-PageRenderer|Applebot",
        True,
        "a link-preview bot (chat or social network unfurling the link)",
    ),
)

# Address ranges of machines, as their owners publish them (mail gateways' MX/egress ranges,
# Apple's 17.0.0.0/8 from which Mail Privacy Protection fetches images).
IP_RULES: tuple[tuple[str, frozenset[str], str], ...] = (
    ("17.0.0.0/8", frozenset({OPEN}), "Apple Mail Privacy Protection prefetch (Apple's proxy)"),
    ("40.92.0.0/15", frozenset({CLICK}), "Microsoft Safe Links scanner (Microsoft 365)"),
    ("40.94.0.0/16", frozenset({CLICK}), "Microsoft Safe Links scanner (Microsoft 365)"),
    ("40.107.0.0/16", frozenset({CLICK}), "Microsoft Safe Links scanner (Microsoft 365)"),
    ("52.100.0.0/14", frozenset({CLICK}), "Microsoft Safe Links scanner (Microsoft 365)"),
    ("104.47.0.0/17", frozenset({CLICK}), "Microsoft Safe Links scanner (Microsoft 365)"),
    ("67.231.144.0/20", BOTH, "Proofpoint link scanner (Proofpoint's network)"),
    ("148.163.128.0/19", BOTH, "Proofpoint link scanner (Proofpoint's network)"),
    ("205.220.160.0/19", BOTH, "Proofpoint link scanner (Proofpoint's network)"),
    ("205.139.110.0/24", BOTH, "Mimecast link scanner (Mimecast's network)"),
    ("207.211.30.0/24", BOTH, "Mimecast link scanner (Mimecast's network)"),
    ("216.205.24.0/24", BOTH, "Mimecast link scanner (Mimecast's network)"),
    ("64.235.144.0/20", BOTH, "Barracuda link scanner (Barracuda's network)"),
    ("209.222.80.0/21", BOTH, "Barracuda link scanner (Barracuda's network)"),
)

# A person does not click a link this soon after the email was delivered; scanners do.
CLICK_SCANNER_SECONDS = 10.0
# Nor does a person open it this soon; prefetchers do, as the message arrives.
OPEN_PREFETCH_SECONDS = 2.0
# A scanner follows every link at once: this many different links within this window.
BURST_SECONDS = 1.0
BURST_LINKS = 3

# Mail clients and browsers, for the reason of a human verdict.
CLIENT_NAMES: tuple[tuple[UserAgentRule, str], ...] = tuple(
    (_ua(pattern, False, name), name)
    for pattern, name in (
        (r"Microsoft Outlook|ms-office|MSOffice", "Outlook"),
        (r"Thunderbird", "Thunderbird"),
        (r"Edg/|Edge/", "Edge"),
        (r"Firefox/", "Firefox"),
        (r"Chrome/|CriOS/", "Chrome"),
        (r"iPhone|iPad", "iOS"),
        (r"Version/[\d.]+.*Safari/", "Safari"),
        (r"AppleWebKit/[\d.]+ \(KHTML, like Gecko\)$", "Apple Mail"),
        (r"Android", "Android"),
    )
)


def verdict(hit: Hit, recent: Sequence[RecentHit] = ()) -> Verdict:
    """Human or machine, and why, for one hit given the email's recent hits."""
    if hit.by_sender:
        return Verdict(False, f"the sender's own {hit.kind}", excluded=True)
    for rule in (_method_rule, _user_agent_rule, _ip_rule, _timing_rule, _burst_rule):
        found = rule(hit, recent)
        if found is not None:
            return found
    return Verdict(False, f"a person's {_client_name(hit.user_agent)}")


def _method_rule(hit: Hit, recent: Sequence[RecentHit]) -> Verdict | None:
    if hit.method.upper() == "HEAD":
        return Verdict(True, "a HEAD request: a link scanner checking the link without opening it")
    return None


def _user_agent_rule(hit: Hit, recent: Sequence[RecentHit]) -> Verdict | None:
    return _user_agent_verdict(hit.kind, hit.user_agent.strip())


@lru_cache(maxsize=4096)
def _user_agent_verdict(kind: str, user_agent: str) -> Verdict | None:
    """Cached: the same few user agents make most hits."""
    if not user_agent:
        return Verdict(True, "no user agent: not a mail client or browser")
    lowered = user_agent.lower()
    for rule in USER_AGENT_RULES:
        if kind in rule.kinds and rule.matches(user_agent, lowered):
            return Verdict(rule.machine, rule.reason)
    found = None if MAIL_CLIENT.matches(user_agent, lowered) else bots.bot(user_agent)
    if found is not None:
        return Verdict(True, f"{BOT_REASONS[found.why]}: {found.name}")
    return None


# Mail programs whose user agents do not look like a browser's ("Mozilla/4.0 (compatible;
# ms-office; MSOffice 16)" names no platform): never judged by the shape of a bot's.
MAIL_CLIENT = _ua(
    r"ms-office|MSOffice|Microsoft Outlook|Outlook-iOS|Outlook-Android|Thunderbird|"
    r"Windows-Live-Mail|Windows Mail|Airmail|Spark/|Postbox|eM Client|Mailbird|"
    r"Evolution/|\bKMail\b|Claws Mail|SeaMonkey|YahooMobileMail|\bMail/\d",
    False,
    "a mail client",
)

# How a bot was told, as the verdict's reason says it ("crawler: AhrefsBot").
BOT_REASONS = {
    "crawler": "crawler",
    "bot": "bot",
    "script": "automated HTTP client, not a mail client or browser",
    "not a browser": "not a mail client or browser",
}


def _ip_rule(hit: Hit, recent: Sequence[RecentHit]) -> Verdict | None:
    return _ip_verdict(hit.kind, hit.ip)


@lru_cache(maxsize=4096)
def _ip_verdict(kind: str, ip: str) -> Verdict | None:
    address = _address(ip)
    if address is None:
        return None
    for network, kinds, reason in _networks():
        if kind in kinds and address.version == network.version and address in network:
            return Verdict(True, reason)
    return None


def _timing_rule(hit: Hit, recent: Sequence[RecentHit]) -> Verdict | None:
    seconds = hit.seconds_since_sent
    if seconds is None:
        return None
    if hit.kind == CLICK and seconds < CLICK_SCANNER_SECONDS:
        return Verdict(True, f"clicked {seconds:.1f} s after delivery: a link scanner")
    if hit.kind == OPEN and seconds < OPEN_PREFETCH_SECONDS:
        return Verdict(True, f"opened {seconds:.1f} s after delivery: a prefetch")
    return None


def _burst_rule(hit: Hit, recent: Sequence[RecentHit]) -> Verdict | None:
    if hit.kind != CLICK:
        return None
    links = {hit.link} | {
        r.link for r in recent if r.kind == CLICK and abs(r.seconds_ago) <= BURST_SECONDS
    }
    if len(links) >= _links_for_a_burst(hit.links_in_email):
        return Verdict(
            True, f"{len(links)} links clicked within {BURST_SECONDS:g} s: a link scanner"
        )
    return None


def _links_for_a_burst(links_in_email: int) -> int:
    return min(BURST_LINKS, links_in_email) if links_in_email >= 2 else BURST_LINKS


def recent_hits_matter(kind: str, links_in_email: int) -> bool:
    """Whether an email's recent hits can change the verdict of a hit of this kind on it.

    Only the burst rule reads them, and it counts different links: the recent hits of an
    email are clicks on its own links, so an email with fewer links than a burst takes
    (one link, all its clicks on it) never has one, however fast it is clicked.
    """
    return kind == CLICK and links_in_email >= _links_for_a_burst(links_in_email)


@lru_cache(maxsize=4096)
def _client_name(user_agent: str) -> str:
    lowered = user_agent.lower()
    for rule, name in CLIENT_NAMES:
        if rule.matches(user_agent, lowered):
            return f"{name} (mail client or browser)"
    return "mail client or browser"


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=1)
def _networks() -> tuple[
    tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, frozenset[str], str], ...
]:
    return tuple((ipaddress.ip_network(cidr), kinds, reason) for cidr, kinds, reason in IP_RULES)
