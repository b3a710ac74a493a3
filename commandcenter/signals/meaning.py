"""Bounce reasons by what the words mean, for wordings no phrase table knows.

The phrase tables of `reasons.py` hold what known servers write; every other server says
the same few things in its own words: the address does not exist, the mailbox is full, your
address is refused, your IP is listed, your rate is too high. Each group below is one of
those meanings written as the shapes its wordings share (subject words and predicate words
of RFC 5321/3463 and of the vocabulary of reasons), never one sender's sentence.

Two uses:
- `reason_by_meaning(text)`: the reason when no phrase decided (before "onhold");
- `refine(reason, text)`: the policy reasons that phrases confuse, decided by meaning: an
  SPF/DKIM/DMARC failure is `authfailure` even when it says "blocked", a missing PTR is
  `requireptr`, a reputation is `badreputation`, connections are `toomanyconn` and message
  rates `speeding`.

Patterns run on text lower-cased with its white space collapsed.
"""

from __future__ import annotations

import functools
import re

from commandcenter.lib.regex import top_level_alternatives

# Who or what a sentence is about, and what is said of it.
_ADDRESS = (
    r"(?:user(?:name|id| id)?|mailbox|mail ?box|recipient|addressee|address|account|alias|"
    r"local[- ]part|e-?mail address|person|destination)"
)
_NOT_THERE = (
    r"(?:unknown|not (?:found|known|recogni[sz]ed|valid|listed|registered|exist(?:ing|s)?)|"
    r"non-?existent|invalid|unavailable|does ?n[o']t exist|did ?n[o']t exist|"
    r"(?:is |was )?no longer (?:valid|available|active|in use)|"
    r"(?:could ?n[o']t|can ?n[o']t|cannot|was ?n[o']t) be found)"
)
_WORDS = r"(?: [^ ]+){0,4}?"
_PTR = r"\b(?:ptr|rdns|fcrdns|reverse[- ]?(?:dns|lookup|hostname|name|mapping|resolution))\b"

# The server looked the address up in its directory and did not find it: said when the
# address is checked, never a filter's polite refusal after the message (see
# reasons._unknown_or_filtered), so a dead address whatever the code and the command.
DIRECTORY_LOOKUP = (
    r"\bnot (?:listed|found) in (?:the |our |public |domino |global )*(?:directory|"
    r"address book|name (?:&|and) address book|ldap|recipient list)|"
    r"\bno (?:such )?(?:entry|match|record)(?: found)? (?:in|for|on) (?:the |our |this )?"
    r"(?:directory|ldap|address book)"
)
_DIRECTORY_LOOKUP = re.compile(DIRECTORY_LOOKUP)


def says_directory_has_no_such_address(text: str) -> bool:
    return _DIRECTORY_LOOKUP.search(normalized(text)) is not None


ATTACHMENT_REFUSED = (
    r"\b(?:banned|forbidden|prohibited|illegal|disallowed|unacceptable|blocked|dangerous|"
    r"executable|unsafe)\b.{0,30}\b(?:attachments?|file (?:types?|names?|extensions?))\b|"
    r"\b(?:attachments?|file (?:types?|extensions?))\b.{0,30}\b(?:not (?:allowed|permitted|"
    r"accepted)|banned|forbidden|prohibited|blocked)\b"
)
_ATTACHMENT_REFUSED = re.compile(ATTACHMENT_REFUSED)

MEANINGS: tuple[tuple[str, str], ...] = (
    # The address itself is not there.
    (
        "userunknown",
        rf"\b(?:no such|unknown|invalid|non-?existent|non-?existing|unrecogni[sz]ed|illegal)"
        rf"(?: [a-z-]+){{0,2}}? {_ADDRESS}e?s?\b|"
        rf"\b{_ADDRESS}{_WORDS} (?:is |was |are )?{_NOT_THERE}|"
        rf"\bnot an? (?:valid|registered|known|existing|local) {_ADDRESS}\b|"
        rf"\b(?:could ?n[o']t|can ?n[o']t|cannot|unable to|did ?n[o']t) (?:find|locate) "
        rf"(?:a |the |any |that |this )?{_ADDRESS}\b|" + DIRECTORY_LOOKUP + r"|"
        r"\bno (?:such )?(?:entry|match|record)(?: found)? (?:in|for|on) (?:the |our |this )?"
        r"(?:server|system|domain)|"
        r"\bno (?:one|body|user|mailbox|account) (?:here |by that name|at this address)|"
        r"recip(?:ient)?notfound|\bunknown or illegal\b",
    ),
    (
        "hostunknown",
        r"\b(?:unknown|no such|invalid|non-?existent) (?:host|domain|mail domain)\b|"
        r"\b(?:host|domain)(?: name)?(?: [^ ]+)? (?:not found|unknown|does ?n[o']t exist|"
        r"not (?:resolvable|registered))|\bnxdomain\b|\bdomain(?: [^ ]+)? (?:is )?"
        r"(?:not reachable|unreachable)|\bname or service not known\b|"
        r"\bno address associated with (?:host ?name|name)\b",
    ),
    # A lookup that failed is not an answer that the host does not exist.
    (
        "networkerror",
        r"\b(?:malformed|unexpected|bad|truncated) (?:\w+ )?(?:name server|dns) (?:reply|response)|"
        r"\b(?:host ?name|dns|name server|mx) (?:lookup )?(?:failure|failed|error|time ?out)|"
        r"\btemporary (?:dns|lookup|name service) (?:failure|error)|\bservfail\b|"
        r"\b(?:unable|not able|wasn't able|could not|couldn't|failed) to (?:establish|open|make) "
        r"(?:an? )?(?:smtp |tcp )?connection|"
        r"\bhop count\b|\btoo many hops\b|\b(?:routing|mail|forwarding) loop\b",
    ),
    (
        "systemfull",
        r"\binsufficient (?:system )?(?:disk )?(?:space|storage)\b|"
        r"\b(?:disk|file ?system|spool|queue) (?:is )?full\b|\bno space left on device\b",
    ),
    (
        "mailboxfull",
        r"\b(?:mailbox|inbox|mail ?box|quota|storage|mail ?folder)\b.{0,30}"
        r"\b(?:full|exceed|over)|over ?quota|\bquota\b.{0,20}\b(?:reached|exhausted|used up)|"
        r"\btoo many (?:messages|mails|e-?mails) (?:on|in|stored) (?:the |this |his |her )?"
        r"(?:server|mailbox|account)",
    ),
    (
        "suspend",
        r"\b(?:account|mailbox|user|recipient)\b.{0,40}\b(?:locked|frozen|inactive|suspended|"
        r"disabled|deactivated|closed|blocked by (?:the )?administrator)\b",
    ),
    (
        "hasmoved",
        r"\bhas moved\b|\bmoved to (?:a )?(?:new|another)\b|\bnew (?:e-?mail )?address is\b",
    ),
    (
        "mesgtoobig",
        r"\b(?:message|mail|email|e-mail)\b.{0,20}\b(?:too (?:large|big|long)|size exceed|"
        r"exceeds? (?:the )?(?:maximum |allowed )?size)|\bsize (?:limit|exceed)",
    ),
    (
        "filtered",
        r"\brecipient(?:'s)? (?:preferences|rules|filters?)\b|"
        r"\b(?:refuses?|refused|declines?|declined) to (?:accept|receive) (?:your |this )?"
        r"(?:mail|messages?|e-?mails?)\b|\bnot accepting (?:mail|messages|e-?mails) from\b",
    ),
    (
        "toomanyconn",
        r"\btoo many (?:open |concurrent |simultaneous |parallel |smtp )?(?:connections|"
        r"sessions)|\b(?:connection|session|concurrency)s? (?:rate )?limit|"
        r"\bmax(?:imum)? (?:number of )?(?:concurrent )?connections\b|\bfrequency limit",
    ),
    (
        "speeding",
        r"\brate[- ]?limit|\btoo many (?:messages|mails|emails|e-mails|deliveries)\b|"
        r"\bsending (?:rate|limit|quota)|\b(?:messages?|mails?|e-?mails?) per "
        r"(?:second|minute|hour|day)\b|\btoo fast\b|\bslow down\b|\bthrottl|"
        r"\bexceeded (?:the |your )?(?:daily|hourly|message|sending) (?:limit|quota|rate)|"
        r"\bunusual rate\b|\bat a rate\b",
    ),
    (
        "norelaying",
        r"\brelay(?:ing)? (?:access )?(?:is )?(?:denied|not (?:permitted|allowed)|prohibited)|"
        r"\bnot (?:permitted|allowed) to relay|\bno relaying\b|\bunable to relay\b",
    ),
    (
        "securityerror",
        r"\bsmtp auth(?:entication)?\b|\bauthenticat(?:e|ion) (?:is )?required\b|"
        r"\bmust (?:be )?authenticat|\bunauthenticated senders?\b|"
        r"\bturn on (?:smtp )?authentication\b",
    ),
    (
        "authfailure",
        r"\b(?:spf|dkim|dmarc|domainkeys?|sender policy framework)\b.{0,40}"
        r"\b(?:fail|invalid|not pass|did ?n[o']t pass|does ?n[o']t pass|violat|alignment|"
        r"softfail|permerror|hardfail|unauthenticated|check)|"
        r"\b(?:fail\w*|did not pass|does not pass|reject\w*)\b.{0,30}\b(?:spf|dkim|dmarc)\b|"
        r"\bauthentication information\b|\bfails? to pass (?:authentication|spf|dkim|dmarc)",
    ),
    (
        "requireptr",
        rf"\b(?:no|missing|invalid|without|lacks?|bad|fail\w*|requires?|required|must have|"
        rf"not have|cannot find|unable to find|could not find|fix)\b.{{0,30}}{_PTR}|"
        rf"{_PTR}.{{0,30}}\b(?:missing|required|fail\w*|not found|does ?n[o']t|invalid|"
        r"mismatch\w*|no match|not set|lookup)|"
        r"\b(?:no|missing|invalid|without|lacks?|unknown) (?:a )?(?:valid )?(?:reverse )?"
        r"(?:host ?name|dns name)\b|"
        r"\b(?:cannot|can't|could not|unable to) (?:find|resolve) (?:your |the )?"
        r"(?:ip|address|host ?name)\b|"
        r"\b(?:host ?name|domain|helo)\b.{0,30}\b(?:mismatch\w*|does ?n[o']t match|not match\w*)\b"
        r".{0,20}\b(?:ip|address)\b",
    ),
    ("badreputation", r"\breputation\b"),
    ("notcompliantrfc", r"\brfc ?(?:5322|2822)\b|\bnot (?:rfc[- ]?)?compliant\b"),
    (
        "failedstarttls",
        r"\bstarttls\b|\btls (?:is )?required\b|\bmust (?:use|issue) (?:a )?(?:starttls|tls)\b|"
        r"\btls negotiation failed\b",
    ),
    ("virusdetected", r"\bvirus|\bmalware\b|\binfected\b|\btrojan\b"),
    # The kind of attachment is refused (a file type the policy bans), not our IP or sender.
    ("policyviolation", ATTACHMENT_REFUSED),
    (
        "blocked",
        r"\b(?:ip|client|host|sender|server|network|connection)\b.{0,40}"
        r"\b(?:block|blacklist|blocklist|denylist|listed|banned)|\bdnsbl\b|\brbl\b|"
        r"\brefused to talk to me\b|\binvalid ip\b|\b(?:block|black|deny) list(?:ed)?\b|"
        # Our IP is a consumer line's, which should send through its provider's server.
        r"\b(?:dynamic|residential|dial-?up|consumer|broadband)\b.{0,20}"
        r"\b(?:ips?|address(?:es)?|range|pool|hosts?|space)\b|"
        r"\b(?:smtp|mail|outgoing|relay) (?:server|relay|host) of your (?:isp|provider)\b|"
        r"\byour (?:isp|provider)'?s? (?:smtp|mail|outgoing|relay) (?:server|relay|host)\b",
    ),
    (
        "spamdetected",
        r"spam|\bunsolicited\b|\bjunk mail\b|\bube\b|\bbulk (?:e-?)?mail\b|"
        r"\bcontent (?:filter|rejected|not accepted)\b|"
        r"\b(?:url|uri|link)s?\b.{0,20}\b(?:blacklist|blocklist|listed)",
    ),
    ("policyviolation", r"\bpolic(?:y|ies)\b"),
    (
        "rejected",
        r"\bsender\b.{0,30}\b(?:rejected|refused|denied|not (?:allowed|accepted))|"
        # Our sender may not send as the identity it used ("send as" permissions, aliases).
        r"\bnot (?:allowed|permitted|authori[sz]ed|have permissions?) to send (?:as|on behalf)\b|"
        r"\bsend(?:ing)? (?:this |mail |messages? )?(?:as|from) (?:a )?(?:different|another|"
        r"unverified|unauthori[sz]ed) (?:address|alias|identity|account)\b",
    ),
    (
        "notaccept",
        r"\bnull mx\b|\bno mx\b|\bmail exchanger\b|\bno smtp service\b|"
        r"\bdoes ?n[o']t (?:receive|accept) (?:e-?)?mail\b",
    ),
    (
        "expired",
        r"\bexpired\b|\bgiving up\b|\bgave up\b|\btimed? ?out\b|\bin (?:the )?queue too long|"
        r"\b\d+ (?:attempts|retries)\b|\bwill be retried\b|\bnot reachable\b",
    ),
    ("networkerror", r"\bconnection (?:refused|reset)\b"),
    (
        "mailererror",
        r"\bpipe to\b|\bcommand (?:died|failed)\b|\bexit (?:status|code) \d|\bmailer error\b",
    ),
    (
        "systemerror",
        r"\b(?:ldap|database|directory|backend) (?:server )?(?:error|unavailable|failure)\b|"
        r"\bunable to (?:contact|connect to|reach) (?:the )?(?:ldap|database|directory|backend)\b|"
        r"\bservice (?:currently |temporarily )?(?:unavailable|not available|refused)\b|"
        r"\b(?:system|internal|server) error\b|"
        # The receiving server could not write the message down: its disk, not the address.
        r"\b(?:queue|spool|disk|temporary) (?:file )?(?:write|i/o) (?:error|failure)\b|"
        r"\bi/o error\b",
    ),
    (
        "syntaxerror",
        r"\bsyntax\b|\bnot implemented\b|\bunrecognized command\b|"
        r"\b(?:malformed|ill-?formed|badly formed|incorrectly (?:constructed|formatted))"
        r"(?: recipient| sender| e-?mail)? address(?:es)?\b",
    ),
)


@functools.cache
def _groups() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The groups compiled, in order (on first use: a process that never needs them, such
    as one whose every message a phrase decides, never pays for compiling them)."""
    return tuple((reason, re.compile(pattern)) for reason, pattern in MEANINGS)


@functools.cache
def _by_reason(reason: str) -> re.Pattern[str]:
    """Every group of one reason as one pattern."""
    patterns = [pattern for r, pattern in _groups() if r == reason]
    if len(patterns) == 1:
        return patterns[0]
    return re.compile("|".join(p.pattern for p in patterns))


def normalized(text: str) -> str:
    return " ".join(text.lower().split())


def reason_by_meaning(
    text: str, held_out: frozenset[str] = frozenset(), fired: list[str] | None = None
) -> str:
    """The first meaning group the text says, or ''. Rules in `held_out` are skipped; the
    one that decided is appended to `fired` (both by alternative)."""
    lowered = normalized(text)
    if held_out or fired is not None:
        return _by_alternative(lowered, held_out, fired)
    for reason, pattern in _groups():
        if pattern.search(lowered) and not _vetoed(reason, lowered):
            return reason
    return ""


def _vetoed(reason: str, lowered: str) -> bool:
    """A PTR or a reputation named beside a blocklist listing is the listing's (`blocked`:
    "listed at a DNSBL", "in the Reputation Block List")."""
    return reason in LISTING_WINS_OVER and LISTED.search(lowered) is not None


LISTING_WINS_OVER = frozenset({"requireptr", "badreputation"})


def _by_alternative(lowered: str, held_out: frozenset[str], fired: list[str] | None) -> str:
    for reason, pattern in MEANINGS:
        # Each top-level alternative is a rule of its own, so the held-out check of
        # bench/classify.py can take out one that only one family of mail uses.
        for alternative in top_level_alternatives(pattern):
            if (
                alternative not in held_out
                and re.search(alternative, lowered)
                and not _vetoed(reason, lowered)
            ):
                if fired is not None:
                    fired.append(alternative)
                return reason
    return ""


# Reasons that phrases of policy refusals land on while the words say something closer.
# (Not securityerror: "authentication" there is SMTP AUTH's or a required level's; nor
# spamdetected: a spam filter's notice lists every check it ran.)
POLICY_REASONS = frozenset({"blocked", "rejected", "policyviolation", "systemerror"})
# The closer reasons, tried in order, each with words one of which its group needs (a
# substring test before the search: most refusals name none of them).
CLOSER_POLICY_REASONS = (
    ("authfailure", ("spf", "dkim", "dmarc", "domainkey", "sender policy", "authentication")),
    ("requireptr", ("ptr", "rdns", "reverse", "host", "dns name", "resolve", "find", "mismatch")),
    ("badreputation", ("reputation",)),
)
# A DNS blocklist names the IP as listed: that is `blocked`, whatever PTR words come with it.
LISTED = re.compile(r"\b(?:listed|black ?list|block ?list|deny ?list|dnsbl|rbl)\b")
# The sentences of a queue that gave up, and the causes that can stand behind them.
GAVE_UP = re.compile(
    r"i'm not going to try again[^.]*\.?|this message has been in the queue too long\.?|"
    r"giving up[^.]*\.?|gave up[^.]*\.?|retry time(?:out)? (?:not reached|exceeded)[^.]*\.?|"
    r"delivery attempts will continue[^.]*\.?"
)
CAUSES_OF_EXPIRY = frozenset(
    {"networkerror", "systemerror", "hostunknown", "notaccept", "blocked", "mailboxfull"}
)
# What a DNS answer says when it did answer: no such host, or no mail for the domain.
ANSWERED = re.compile(
    r"\b(?:not found|unknown|does ?n[o']t exist|nxdomain|null mx|no mx|"
    r"does ?n[o']t (?:receive|accept) (?:e-?)?mail)"
)
SPAM_LINK = re.compile(
    r"\b(?:url|uri|link)s?\b.{0,20}\b(?:blacklist|blocklist|listed)|"
    r"\b(?:blacklisted|blocklisted|listed) (?:url|uri|link|domain in)"
)


def refine(reason: str, text: str) -> str:
    """The reason the words mean, where a phrase read them as a neighbouring one."""
    lowered = normalized(text)
    for rule in REFINEMENTS:
        closer = rule(reason, lowered)
        if closer:
            return closer
    return reason


def _a_failed_lookup(reason: str, lowered: str) -> str:
    """A DNS lookup that failed is no answer that the host is not there."""
    if reason not in ("notaccept", "hostunknown") or ANSWERED.search(lowered):
        return ""
    return "networkerror" if _by_reason("networkerror").search(lowered) else ""


def _a_listing(reason: str, lowered: str) -> str:
    """A PTR or a reputation beside a blocklist listing is the listing's; a listed link is
    spam, not our IP; a spam notice that names a reputation (not a listing) is about the
    reputation."""
    if _vetoed(reason, lowered):
        return "blocked"
    if reason == "blocked" and SPAM_LINK.search(lowered):
        return "spamdetected"
    if (
        reason == "spamdetected"
        and _by_reason("badreputation").search(lowered)
        and not _vetoed("badreputation", lowered)
    ):
        return "badreputation"
    return ""


def _a_closer_policy(reason: str, lowered: str) -> str:
    """A refusal that names SPF/DKIM/DMARC, a PTR or a reputation means that one."""
    if reason not in POLICY_REASONS:
        return ""
    for closer, words in CLOSER_POLICY_REASONS:
        if any(word in lowered for word in words) and _by_reason(closer).search(lowered):
            return "" if _vetoed(closer, lowered) else closer
    return ""


def _an_attachment(reason: str, lowered: str) -> str:
    """A refusal of what the message carries ("banned attachment", "file type not
    allowed") is the policy's, whatever word of blocking it uses."""
    if reason not in POLICY_REASONS and reason not in ("securityerror", "spamdetected"):
        return ""
    return "policyviolation" if _ATTACHMENT_REFUSED.search(lowered) else ""


def _the_cause_of_expiry(reason: str, lowered: str) -> str:
    """ "Expired" is the outcome (retried until the queue gave up); a cause named beside it
    ("could not connect", "LDAP server unavailable") is the reason."""
    if reason != "expired":
        return ""
    cause = reason_by_meaning(GAVE_UP.sub(" ", lowered))
    return cause if cause in CAUSES_OF_EXPIRY else ""


def _connections_or_rate(reason: str, lowered: str) -> str:
    """Too many connections at once is `toomanyconn`, too many messages over time
    `speeding`, too many messages held on the server a full mailbox."""
    if reason == "speeding":
        if _by_reason("mailboxfull").search(lowered):
            return "mailboxfull"
        return "toomanyconn" if _by_reason("toomanyconn").search(lowered) else ""
    if reason == "toomanyconn" and not _by_reason("toomanyconn").search(lowered):
        return "speeding" if _by_reason("speeding").search(lowered) else ""
    return ""


# Tried in order; the first that names a closer reason decides.
REFINEMENTS = (
    _a_failed_lookup,
    _a_listing,
    _a_closer_policy,
    _an_attachment,
    _the_cause_of_expiry,
    _connections_or_rate,
)
