"""Reading a parsed inbound message: its report parts, its human text, the original inside.

`Parsed` walks the MIME tree once and keeps what the classifier asks about: the delivery
status fields of an RFC 3464 report, the fields of an RFC 5965 feedback report, the text a
mail server wrote for a person, and the headers of the original message it returns.
Everything is decoded leniently: a broken charset or a bad base64 gives replacement
characters, never an exception.
"""

from __future__ import annotations

import email
import email.header
import email.message
import functools
import re
from collections.abc import Iterator
from email.utils import getaddresses

# The most text kept from one part: bounce reports are short; the rest is the original.
MAX_PART_CHARS = 64_000
MAX_DEPTH = 8

# (The look-behind starts a match only where a run of local-part characters starts: without
# it the engine retries from every character of every word, which is most of its time.)
ADDRESS = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)
RAW_ADDRESS = re.compile(r'(?:"[^"\r\n]{1,64}"|[^\s<>;,"@()]{1,64})@[A-Za-z0-9.-]{1,253}')
# The look-behinds come after the first character on purpose: an expression that starts with
# a character class is searched for fast; one that starts with a look-behind is tried at every
# position (ten times slower on a bounce's text).
STATUS = re.compile(r"([245])(?<![\d.][245])\.(\d{1,3})\.(\d{1,3})(?![\d])")
REPLY_CODE = re.compile(r"([245](?<![\d.-][245])[0-5][0-9])(?:[ -]|$)(?![\d.]*%)")
MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")

# Mailboxes that send bounces, never receive them as failed recipients.
SYSTEM_LOCAL_PARTS = re.compile(
    r"^(mailer-daemon|mailer_daemon|post_master|mail-daemon|maildaemon|postmaster|mailerdaemon|"
    r"mail\.delivery|root|double-bounce|bounce[s]?|no-?reply|daemon)$",
    re.I,
)
BOUNCE_SENDER = re.compile(
    r"mailer[-_ ]?daemon|post_?master|mail[ -]delivery|mail[ -]?administrator|"
    r"delivery[ -]?(?:status|subsystem|system)|mail ?system|internet mail delivery",
    re.I,
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non[- ]?deliver|delivery (?:status|fail|problem|notification|report)|"
    r"returned mail|failure notice|mail delivery|delivery has failed|could not be delivered|"
    r"couldn't be delivered|not be delivered|message (?:not delivered|delivery failed|rejected)|"
    r"mail (?:delivery )?failed|bounce|warning: could not send|mail error|rejected:|"
    r"delayed mail|nicht zustellbar|unzustellbar|non remis|échec de (?:la )?remise|"
    r"no se puede entregar|no entregado|devuelto|配信|送信エラー|エラー|退信|未送达|系统退信|"
    r"failed delivery|permanent error|delivery error|mail could not|error sending|"
    r"returned to sender|message you sent|delivery to the following|not reachable|"
    r"mail failure|\bfailure notice\b",
    re.I,
)
BOUNCE_BODY = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|wasn't delivered|"
    r"unable to deliver|undeliverable|delivery (?:has )?failed|failed to deliver|"
    r"permanent(?:ly)? (?:error|fatal|failure)|following addresses? (?:had|failed)|"
    r"delivery to the following recipients? failed|could not deliver|not be delivered|"
    r"message was rejected|recipient address rejected|did not reach|user unknown|no such user|"
    r"mailbox (?:is )?(?:full|unavailable)|remote host said|smtp error|said: [45]\d\d|"
    r"this is the qmail-send program|returned to you|delivery status notification|"
    r"message you sent|your message (?:to|was|could|did|has|cannot|wasn't)|"
    r"giving up|gave up|bounced|retry timeout exceeded|malformed (?:recipient )?address|"
    r"[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}|"
    r"nicht zugestellt|konnte nicht|n'a pas pu|no se pudo|送信できません|配信できません|"
    r"届きませんでした|無法傳遞|无法投递|退回",
    # (matched against lower-cased text)
)
# Where the copy of the original message starts in a plain-text bounce: a short line with
# one of these words (often decorated: "------ This is a copy of the message ------"), or
# the first quoted header line.
QUOTED_HEADER = re.compile(r"^(?:received: from |return-path: <)", re.I | re.M)
GAVE_UP = re.compile(
    r"giving up|gave up|given up|permanent|too long|expired|retry time|"
    r"could not be delivered within|no longer|will not|has been dropped|not be delivered",
    re.I,
)


def decode_header(value: object) -> str:
    """A header as text, its encoded words decoded; junk becomes replacement characters."""
    text = str(value or "")
    if "=?" in text:
        try:
            parts = email.header.decode_header(text)
            text = "".join(
                chunk.decode(_codec(charset), "replace") if isinstance(chunk, bytes) else chunk
                for chunk, charset in parts
            )
        except (ValueError, LookupError, AssertionError, email.errors.HeaderParseError):
            pass
    return clean(text)


def clean(text: str) -> str:
    """Text that can be stored and printed: bytes smuggled in as surrogates become U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text  # the common case, and no surrogate can hide in ASCII
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def _codec(charset: str | None) -> str:
    if not charset:
        return "ascii"
    try:
        import codecs

        return codecs.lookup(charset.strip().lower()).name
    except (LookupError, ValueError):
        return "latin-1" if charset.lower().startswith("iso") else "utf-8"


def part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return clean(raw[:MAX_PART_CHARS]) if isinstance(raw, str) else ""
    charset = charset_of(part) or "utf-8"
    text = payload[: MAX_PART_CHARS * 2].decode(_codec(charset), "replace")
    text = clean(text)[:MAX_PART_CHARS]
    if part.get_content_type().endswith("/html"):
        text = html_to_text(text)
    return text


TAG = re.compile(r"<(?:br|/p|/div|/tr|/li|p|div)\b[^>]*>", re.I)


def html_to_text(html: str) -> str:
    import html as html_module

    html = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", html)
    html = TAG.sub("\n", html)
    html = re.sub(r"<[^>]*>", " ", html)
    return html_module.unescape(html)


def unfold(value: str) -> str:
    return re.sub(r"\s*\r?\n\s+", " ", clean(str(value))).strip()


def bare_address(value: str) -> str:
    """The address in a DSN recipient field (`rfc822; a@b`) or an address header, or ''."""
    value = clean(str(value or "")).strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    value = _unwrapped(value.strip().strip("<>").strip())
    if RAW_ADDRESS.fullmatch(value):
        # As the report wrote it: a quoted local part, a host without dots ("user@mailhub").
        return value.lower()
    match = ADDRESS.search(value)
    return match.group(0).strip(".").lower() if match else ""


# What servers write before the address in a recipient field: "smtp=a@b" (Exchange),
# "SMTP:a@b", "mailto:a@b", a second "rfc822:".
ADDRESS_PREFIX = re.compile(r"^(?:smtp|rfc822|mailto|x400)\s*[=:]\s*", re.I)


def _unwrapped(value: str) -> str:
    """The address without a prefix or the quotes around it ('a@b', "a@b"); a quoted local
    part ("a b"@example.org) keeps its quotes."""
    value = ADDRESS_PREFIX.sub("", value).strip("<> \t")
    if value[:1] in ("'", '"'):
        closing = value.find(value[0], 1)
        if not (closing > 0 and value[closing + 1 : closing + 2] == "@"):
            value = value.strip("'\"").strip("<>")
    return value


def status_code(text: str) -> str:
    """The first failure code (4.x.x, 5.x.x) of the text, else its first code: in a session
    transcript the 2.x.x of the steps that went well come before the one that failed."""
    match = _first_failure(STATUS, text)
    return ".".join(match.groups()) if match else ""


def reply_code(text: str) -> str:
    match = _first_failure(REPLY_CODE, text)
    return match.group(1) if match else ""


def _first_failure(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match whose code (group 1) is not a success, else the first match."""
    first = None
    for match in pattern.finditer(text or ""):
        if match.group(1)[0] != "2":
            return match
        first = first or match
    return first


# How reports name the SMTP command a failure answered. Each starts with plain text, which
# the engine finds fast (a word boundary comes after the word, as a look-behind); the one
# found first in the text wins.
SMTP_COMMAND_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        r"in reply to (?:the )?(rcpt|mail|data|end of data|helo|ehlo|connect)",
        r"after (rcpt|mail|data|end of data|helo|ehlo|initial connection)\b",
        r">>> (rcpt|mail|data|helo|ehlo)",
        r"(rcpt)(?<!\wrcpt) to:? ?<",
        r"\[(rcpt)_to\]",
        r"does not like (recipient)",
        r"did not like our (?:final )?(data|rcpt)",
        r"(data)(?<!\wdata) command",
        r"(rcpt)(?<!\wrcpt) command",
        r"smtp:(rcpt|data|mail)\b",
    )
)
COMMAND_NAMES = {
    "recipient": "RCPT",
    "end of data": "DATA",
    "connect": "CONN",
    "initial connection": "CONN",
}


def smtp_command(text: str) -> str:
    """The SMTP command a failure answered (RCPT, DATA, MAIL, EHLO…), or '' when not said."""
    lowered = " ".join((text or "").lower().split())
    found = [m for pattern in SMTP_COMMAND_PATTERNS if (m := pattern.search(lowered))]
    if not found:
        return ""
    first = min(found, key=lambda match: match.start())
    return COMMAND_NAMES.get(first.group(1), first.group(1).upper())


def says_gave_up(text: str) -> bool:
    return bool(GAVE_UP.search(text[:4000]))


def header_pairs(text: str) -> list[tuple[str, str]]:
    """Header-like `Name: value` lines (folded lines joined), in order, names lower-cased."""
    fields: list[list[str]] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and fields and fields[-1][0]:
            fields[-1][1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip() and len(key) < 40:
            fields.append([key.strip().lower(), value.strip()])
        else:
            fields.append(["", ""])
    return [(name, value) for name, value in fields if name]


def header_block(text: str) -> dict[str, str]:
    """header_pairs() as a dict: the first value of each name."""
    result: dict[str, str] = {}
    for name, value in header_pairs(text):
        result.setdefault(name, value)
    return result


class Parsed:
    """One inbound message, walked once."""

    def __init__(self, message: email.message.Message, raw: bytes = b"") -> None:
        self.message = message
        self.raw = raw
        self._raw_headers: dict[str, str] = {}
        for name, value in message.raw_items():
            self._raw_headers.setdefault(name.lower(), value)
        self._headers: dict[str, str] = {}
        self.subject = self.header("subject")
        self.delivery_status: list[dict[str, str]] | None = None
        self.feedback_report: dict[str, str] | None = None
        self.feedback_recipients: list[str] = []
        self.original_headers: dict[str, str] = {}
        self.texts: list[str] = []
        self._failed: list[str] | None = None
        self._walk(message, 0, inside_original=False)
        if self.delivery_status is None:
            self.delivery_status = _delivery_status_in_text(self.texts)
        self.first_text = self.texts[0] if self.texts else ""
        original_start = _original_start(self.first_text)
        self.report_text = _before_original(self.first_text, original_start)
        if not self.original_headers:
            self.original_headers = _original_headers_in_text(self.first_text, original_start)
        self.original_message_id = _first_message_id(self.original_headers.get("message-id", ""))

    def header(self, name: str) -> str:
        """A top-level header (lower-case name), decoded on first use; '' when absent."""
        if name not in self._headers:
            self._headers[name] = decode_header(self._raw_headers.get(name, ""))
        return self._headers[name]

    # -- walking -------------------------------------------------------------------------------

    def _walk(self, part: email.message.Message, depth: int, *, inside_original: bool) -> None:
        if depth > MAX_DEPTH:
            return
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" or ctype == "text/delivery-status":
            self._read_delivery_status(part)
        elif ctype == "message/feedback-report":
            self._read_feedback_report(part)
        elif ctype in ("message/rfc822", "message/global", "message/partial"):
            self._read_original(part, depth)
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            if not self.original_headers:
                self.original_headers = header_block(part_text(part))
        elif ctype.startswith("multipart/") and (children := _children(part)):
            for child in children:
                self._walk(child, depth + 1, inside_original=inside_original)
        elif self._wants_text(ctype, inside_original):
            # (A multipart whose boundary never appears is read as the text it then is.)
            self.texts.append(part_text(part))

    def _wants_text(self, ctype: str, inside_original: bool) -> bool:
        """The report's own text parts (a few), never the original message's."""
        readable = ctype.startswith(("text/", "multipart/"))
        return readable and not inside_original and len(self.texts) < 4

    def _read_delivery_status(self, part: email.message.Message) -> None:
        payload = part.get_payload()
        blocks: list[dict[str, str]] = []
        if isinstance(payload, list):
            for block in payload:
                if isinstance(block, email.message.Message):
                    blocks.append({k.lower(): clean(str(v)) for k, v in block.raw_items()})
        else:
            blocks = dsn_blocks(part_text(part))
        per_recipient = [b for b in blocks if "final-recipient" in b or "original-recipient" in b]
        if per_recipient:
            self.delivery_status = (self.delivery_status or []) + per_recipient

    def _read_feedback_report(self, part: email.message.Message) -> None:
        payload = part.get_payload()
        pairs: list[tuple[str, str]] = []
        if isinstance(payload, list):
            for block in payload:
                if isinstance(block, email.message.Message):
                    pairs += [(k.lower(), clean(str(v))) for k, v in block.raw_items()]
        else:
            pairs = header_pairs(part_text(part))
        fields: dict[str, str] = {}
        for name, value in pairs:
            fields.setdefault(name, value)
        self.feedback_report = fields
        # A report about a message sent to many names each of them (RFC 5965 §3.2: the
        # field may repeat).
        self.feedback_recipients = [
            address
            for name, value in pairs
            if name in ("original-rcpt-to", "removal-recipient")
            and (address := bare_address(value))
        ]

    def _read_original(self, part: email.message.Message, depth: int) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, email.message.Message):
            if not self.original_headers:
                self.original_headers = {k.lower(): decode_header(v) for k, v in inner.raw_items()}
            self._walk(inner, depth + 1, inside_original=True)
        elif isinstance(payload, str):
            inner = parse_headers(payload.lstrip("\r\n"))
            if not self.original_headers:
                self.original_headers = {k.lower(): decode_header(v) for k, v in inner.raw_items()}
            if inner.get_content_type() == "multipart/report":
                # A bounce forwarded as an attachment: its report is the one to read.
                self._walk(inner, depth + 1, inside_original=True)

    # -- questions -----------------------------------------------------------------------------

    @functools.cached_property
    def shared_text(self) -> str:
        """The report's text that speaks for every recipient: with two or more per-recipient
        groups written into it (a multipart gone flat), the text before the first group, so
        one recipient's diagnostic is never read as another's."""
        if len(self.delivery_status or ()) > 1:
            first = DSN_FIELD_LINE.search(self.report_text)
            if first:
                return self.report_text[: first.start()]
        return self.report_text

    @functools.cached_property
    def report_command(self) -> str:
        """The SMTP command the report as a whole names (for recipients whose lines do not)."""
        return smtp_command(self.shared_text)

    def referenced_ids(self) -> list[str]:
        ids: list[str] = []
        for name in ("in-reply-to", "references"):
            ids += MESSAGE_ID.findall(self.header(name))
        if self.original_message_id:
            ids.append(self.original_message_id)
        return list(dict.fromkeys(ids))

    def envelope_addresses(self) -> list[str]:
        """Addresses that may carry a VERP token: where the report was sent, and the original's
        envelope sender."""
        values = [
            self.header(name)
            for name in ("to", "delivered-to", "x-original-to", "envelope-to", "return-path")
        ]
        values += [
            self.original_headers.get(name, "") for name in ("return-path", "from", "sender")
        ]
        return list(dict.fromkeys(a.lower() for a in ADDRESS.findall(" ".join(values))))

    def original_recipients(self) -> list[str]:
        to = self.original_headers.get("to", "")
        return [a.lower() for _, a in getaddresses([to]) if "@" in a]

    def failed_addresses(self) -> list[str]:
        """Addresses the human-readable report names as failed (not its sender or ours)."""
        if self._failed is None:
            self._failed = self._find_failed_addresses()
        return self._failed

    def _find_failed_addresses(self) -> list[str]:
        excluded = self._own_addresses()
        # Exim and Google name them in a header of their own.
        flagged = [a.lower() for a in ADDRESS.findall(self.header("x-failed-recipients"))]
        text = self.report_text
        found = flagged + [
            LEADING_QUOTE.sub("", a.lower().strip("."))
            for match in ADDRESS.finditer(text)
            if (a := match.group(0)).lower() not in excluded
            and not SYSTEM_LOCAL_PARTS.match(a.split("@")[0])
            and not NOT_A_RECIPIENT.search(text, max(0, match.start() - 120), match.start())
        ]
        if not found:
            found = _flufl_addresses(self.raw)
        if not found:
            found = [a for a in self.original_recipients() if a not in excluded]
        return list(dict.fromkeys(found))[:50]

    def _own_addresses(self) -> set[str]:
        """Addresses that are never a failed recipient: the report's own sender and
        receiver, the original's sender, and every Message-ID (`<id@host>` reads as an
        address). (What the text names as a sender or an ID: NOT_A_RECIPIENT.)"""
        names = ("from", "to", "reply-to", "return-path", "sender")
        own = {a.lower() for a in ADDRESS.findall(" ".join(self.header(n) for n in names))}
        for name in ("from", "return-path", "sender", "reply-to"):
            own |= {a.lower() for a in ADDRESS.findall(self.original_headers.get(name, ""))}
        ids = [self.header("message-id"), self.original_message_id, *self.referenced_ids()]
        own |= {a.lower() for a in ADDRESS.findall(" ".join(ids))}
        return own

    def context_for(self, address: str) -> str:
        """The lines of the report that speak about `address`: from where it is named to the
        next blank line (a few lines at most)."""
        lines = self.report_text.splitlines()
        needle = address.lower()
        others = [a for a in self.failed_addresses() if a != needle]
        for index, line in enumerate(lines):
            if needle in line.lower():
                chunk = [line]
                for following in lines[index + 1 : index + 12]:
                    lowered = following.lower()
                    if any(other in lowered for other in others) or NEW_SECTION.match(lowered):
                        break
                    chunk.append(following)
                return "\n".join(chunk)
        return self.report_text[:3000]


# What sticks to the front of an address written in quotes after a multi-line reply's code
# ("550-'pat@example.org... No such user'"): the code and the quote, not the local part.
LEADING_QUOTE = re.compile(r"^(?:[245]\d\d-)?['`]+")


# A line that opens the transcript of another SMTP session (Sendmail's "While talking to
# mx.example.org:"): what follows is about that server, not about the address above.
NEW_SECTION = re.compile(r"[ \t]*while talking to [^ ]+:")


# What comes right before an address the report's text names as something other than a
# recipient: a sender ("from alice@…", "From: …", "Sender: …", a transcript's "MAIL FROM:<…>";
# but "expanded from: <alias@…>" names the address the recipient was written as) or a
# message ("Message-ID: <…>", "your message <id@host>"). Searched only in the few characters
# before each address.
NOT_A_RECIPIENT = re.compile(
    r"(?:^|\n)(?:from|sender|reply-to|return-path|message-id|in-reply-to|references):"
    r"[^\n]*$|(?<!expanded )\bfrom(?::[ \t]*|[ \t]+)<?$|\bmessage(?:-id)?:?[ \t]+<$",
    re.I,
)
# The first line of RFC 3464's fields written into a text.
DSN_FIELD_LINE = re.compile(
    r"^[ \t]*(?:reporting-mta|final-recipient|original-recipient|arrival-date):", re.I | re.M
)
FINAL_RECIPIENT = re.compile(r"^final-recipient:", re.I | re.M)


def _delivery_status_in_text(texts: list[str]) -> list[dict[str, str]] | None:
    """Delivery-status fields written into a text part (or a multipart gone flat)."""
    blocks = []
    for text in texts:
        if "final-recipient:" not in text.lower():
            continue
        found = FINAL_RECIPIENT.search(text)
        if found:
            blocks += [b for b in dsn_blocks(text[found.start() :]) if "final-recipient" in b]
    return blocks or None


RECIPIENT_FIELDS = ("final-recipient", "original-recipient")


def dsn_blocks(text: str) -> list[dict[str, str]]:
    """The field groups of a delivery-status text: split at blank lines, and also where a
    recipient field repeats (some servers leave out the blank line between recipients)."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n[ \t\r]*\n", text):
        current: dict[str, str] = {}
        for name, value in header_pairs(chunk):
            if name in RECIPIENT_FIELDS and name in current:
                blocks.append(current)
                current = {}
            current.setdefault(name, value)
        if current:
            blocks.append(current)
    return blocks


def parse(raw: bytes) -> email.message.Message:
    """The top-level headers of `raw`, its body kept as text: parts are split on demand.

    Bytes that are not ASCII ride along as surrogates, the way the email package keeps them,
    so each part is decoded later with its own charset."""
    return parse_headers(raw.decode("ascii", "surrogateescape"))


def parse_headers(text: str) -> email.message.Message:
    """A part's headers parsed, its body attached unparsed (no line-by-line reading of it)."""
    if text.startswith(("\n", "\r\n")):
        head, body = "", text.lstrip("\r")[1:]
    else:
        head, body = _split_at_blank_line(text)
    message = Part()
    for name, value in _header_fields(head):
        message.set_raw(name, value)
    message.set_payload(body)
    return message


class Part(email.message.Message):
    """A message part whose content type and its boundary and charset are read once, by a
    plain split of the header, instead of at every question (the classifier asks often)."""

    _type: str | None = None
    _params: dict[str, str] | None = None

    def get_content_type(self) -> str:
        if self._type is None:
            self._type = super().get_content_type()
        return self._type

    def _plain_param(self, name: str) -> str | None:
        """The parameter as written, '' when absent, None when only the email package can
        tell (an RFC 2231 encoded parameter)."""
        if self._params is None:
            value = self.get("content-type") or ""
            if not isinstance(value, str) or "*=" in value:
                return None  # (a Header: the value holds undecodable bytes)
            # (A boundary cannot hold a ";", RFC 2046 §5.1.1.)
            self._params = {}
            for param in value.split(";")[1:]:
                key, _, written = param.partition("=")
                self._params.setdefault(key.strip().lower(), written.strip().strip('"'))
        return self._params.get(name, "")

    def boundary(self) -> str:
        plain = self._plain_param("boundary")
        return plain.rstrip() if plain is not None else self.get_boundary() or ""

    def charset(self) -> str:
        plain = self._plain_param("charset")
        return plain.lower() if plain is not None else self.get_content_charset() or ""


def boundary_of(part: email.message.Message) -> str:
    return part.boundary() if isinstance(part, Part) else part.get_boundary() or ""


def charset_of(part: email.message.Message) -> str:
    return part.charset() if isinstance(part, Part) else part.get_content_charset() or ""


def _split_at_blank_line(text: str) -> tuple[str, str]:
    """(headers, body): split at the first empty line, CRLF or LF. (Two plain searches: a
    regular expression without a literal start reads the text one character at a time.)"""
    ends = [at for gap in ("\n\n", "\n\r\n") if (at := text.find(gap)) >= 0]
    if not ends:
        return text, ""
    at = min(ends)
    gap = 2 if text.startswith("\n\n", at) else 3
    head_end = at - 1 if at and text[at - 1] == "\r" else at
    return text[:head_end], text[at + gap :]


HEADER_NAME = re.compile(r"[!-9;-~]+")
FOLDED = re.compile(r"\r?\n[ \t]+")


def _header_fields(head: str) -> Iterator[tuple[str, str]]:
    """`Name: value` fields (folded lines unfolded) of a header block; junk lines skipped."""
    if "\n " in head or "\n\t" in head:
        head = FOLDED.sub(" ", head)
    for line in head.split("\n"):
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if colon and HEADER_NAME.fullmatch(name):
            yield name, value.lstrip(" \t").rstrip("\r")


def _children(part: email.message.Message) -> list[email.message.Message]:
    """The parts of a multipart, split at its boundary (at most 50); [] when the boundary
    never appears."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [child for child in payload[:50] if isinstance(child, email.message.Message)]
    boundary = boundary_of(part)
    if not isinstance(payload, str) or not boundary:
        return []
    children = []
    # Each part follows a line "--boundary"; "--boundary--" closes the multipart.
    pieces = ("\n" + payload).split("\n--" + boundary)
    for piece in pieces[1:51]:
        if piece.startswith("--"):
            break
        line_end = piece.find("\n")
        children.append(parse_headers(piece[line_end + 1 :] if line_end >= 0 else ""))
    return children


ORIGINAL_KEYWORDS = (
    "original message",
    "copy of the message",
    "copy of your message",
    "below this line",
    "message header",
    "headers of",
    "header of",
    "returned message",
    "unsent message",
    "message follows",
    "undelivered message",
    "included is a copy",
    "original headers",
    "rfc822",
)


MARKER_DECORATIONS = ("--", "==", "**", "__", "<<", ">>", "++")


def _original_start(text: str) -> int:
    """Where the quoted original message starts in a bounce's text, or -1: a short (or
    decorated) line with one of the keywords, or the first quoted header line."""
    lowered = text.lower()
    hits = sorted(
        (position, keyword)
        for keyword in ORIGINAL_KEYWORDS
        if (position := lowered.find(keyword, 20)) >= 0
    )
    ends = []
    for position, keyword in hits:
        line_start = text.rfind("\n", 0, position) + 1
        line_end = text.find("\n", position)
        line = text[line_start : line_end if line_end >= 0 else len(text)].strip()
        # A marker line, not a sentence that happens to mention "the returned message".
        if line[:2] in MARKER_DECORATIONS or len(line) <= len(keyword) + 30:
            ends.append(line_start)
            break
    header = QUOTED_HEADER.search(text, 20)
    if header:
        ends.append(header.start())
    return min(ends) if ends else -1


def _before_original(text: str, start: int) -> str:
    return text[:start] if start >= 0 else text[:20000]


def _original_headers_in_text(text: str, start: int) -> dict[str, str]:
    """The original's headers quoted in a plain-text bounce, found after the marker."""
    if start < 0:
        return {}
    rest = text[start:]
    first_header = re.search(r"^(?:[\w-]+): ", rest, re.M)
    return header_block(rest[first_header.start() :][:20000]) if first_header else {}


def _first_message_id(value: str) -> str:
    """The Message-ID in a header value, with its angle brackets even when they were lost."""
    match = MESSAGE_ID.search(value)
    if match:
        return match.group(0)
    bare = value.strip()
    return f"<{bare}>" if re.fullmatch(r"[^<>\s]+@[^<>\s]+", bare) else ""


def _flufl_addresses(raw: bytes) -> list[str]:
    """flufl.bounce's detectors, the slow fallback for formats our text rules miss (they
    want the whole MIME tree, parsed the email package's way)."""
    from flufl.bounce import scan_message

    if not raw:
        return []
    try:
        found = scan_message(email.message_from_bytes(raw))
    except Exception:  # noqa: BLE001 - a third-party detector choking on junk finds nothing
        return []
    addresses = []
    for value in found:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        address = bare_address(text)
        if address:
            addresses.append(address)
    return sorted(addresses)


def looks_like_bounce(parsed: Parsed) -> bool:
    """A plain-text bounce: sent by a mail system, saying that delivery failed."""
    sender = parsed.header("from") + " " + parsed.header("return-path")
    null_sender = parsed.header("return-path").strip() in ("<>", "")
    system_sender = bool(BOUNCE_SENDER.search(sender))
    subject = bool(BOUNCE_SUBJECT.search(parsed.subject))
    if parsed.header("auto-submitted").lower().startswith("auto-replied") and not (
        system_sender or subject
    ):
        return False
    if not (system_sender or subject or null_sender):
        return False  # ordinary mail: no need to read its body
    if system_sender and subject:
        return True
    return bool(BOUNCE_BODY.search(parsed.report_text[:8000].lower()))
