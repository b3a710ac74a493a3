"""The bytes of an outgoing message: `serialize(message.message())`, written directly.

Django's EmailMessage.message() builds a tree of email.message objects (every part's charset
and transfer encoding worked out through email.charset, every header checked again on the
way in), which serialize() then walks: that was half of the sender's CPU per email. The
messages the sender builds have one shape: a UTF-8 text body, maybe text alternatives
(the HTML), headers, no attachments. For that shape `message_bytes` writes the parts and
headers itself, byte for byte what Django's way gives (tests compare the two over many
messages: charsets, long lines, folding, threads). Any other shape takes Django's way.

The header values still go through Django's own check (`forbid_multi_line_headers`: no line
breaks, non-ASCII encoded) and the stdlib's folding (message.fold_header): one home for
those rules.
"""

from __future__ import annotations

import re
from email.policy import compat32
from email.utils import formatdate, make_msgid
from functools import lru_cache
from typing import Any, TypeGuard

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers
from django.core.mail.utils import DNS_NAME

from commandcenter.delivery.message import fold_header, new_boundary, serialize

CRLF = b"\r\n"
# What serialize() folds headers by: the stdlib's compat32, lines ending in CRLF.
SMTP_POLICY = compat32.clone(linesep="\r\n")
# Every line end becomes CRLF (the generator's own rule, email.generator.NLCRE).
LINE_END = re.compile(rb"\r\n|\r|\n")
# The line email.header's Header.encode() folds at (email.header.MAXLINELEN).
HEADER_ENCODE_LINE = 78
# A MIME subtype as Django gives it to the part unchanged ("html", "x-amp-html").
SUBTYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*\Z")
# The headers Django writes from the message's fields; extra headers of these names replace
# the fields' values instead of being added (EmailMessage.message()).
FIELD_HEADERS = frozenset({"from", "to", "cc", "reply-to"})


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it goes over SMTP, exactly as serialize(message.message()) gives it.

    Raises ValueError (BadHeaderError, UnicodeError) where Django's message() would.
    """
    written = written_directly(message)
    return serialize(message.message()) if written is None else written


def written_directly(message: EmailMessage) -> bytes | None:
    """The message's bytes for the usual shape; None for any other (take Django's way)."""
    if not _usual_shape(message):
        return None
    parts = []
    if message.body or not message.alternatives:
        parts.append(_text_part("plain", str(message.body)))
    for content, mimetype in message.alternatives:
        parts.append(_text_part(mimetype.split("/", 1)[1], str(content)))
    if any(part is None for part in parts):
        return None
    bodies = [part for part in parts if part is not None]
    headers = _top_headers(message)
    if not message.alternatives:
        # A single text part is the message itself: its own headers come first.
        [only] = bodies
        part_headers, _, body = only.partition(CRLF + CRLF)
        return part_headers + CRLF + _folded(headers) + CRLF + body
    # The boundary is chosen once the parts are written, as the stdlib's generator does, so
    # that it is found in none of them.
    boundary = new_boundary(CRLF.join(bodies))
    delimiter = f"--{boundary}".encode("ascii")
    content_type = f'multipart/alternative; boundary="{boundary}"'
    out = [
        fold_header(SMTP_POLICY, "Content-Type", content_type),
        b"MIME-Version: 1.0\r\n",
        _folded(headers),
        CRLF,
        delimiter + CRLF,
        (CRLF + delimiter + CRLF).join(bodies),
        CRLF + delimiter + b"--" + CRLF,
    ]
    return b"".join(out)


def _usual_shape(message: EmailMessage) -> TypeGuard[EmailMultiAlternatives]:
    """A message whose MIME tree is Django's own alternatives-and-text one, in UTF-8."""
    kind = type(message)
    return (
        isinstance(message, EmailMultiAlternatives)
        and kind.message is EmailMessage.message
        and _inherited(kind, EmailMultiAlternatives, "_create_message")
        and _inherited(kind, EmailMessage, "_create_mime_attachment")
        and message.content_subtype == "plain"
        and message.alternative_subtype == "alternative"
        and not message.attachments
        and (message.encoding or settings.DEFAULT_CHARSET) == "utf-8"
        and isinstance(message.body, str)
        and all(
            isinstance(content, str)
            and mimetype.startswith("text/")
            and SUBTYPE.match(mimetype[len("text/") :]) is not None
            for content, mimetype in message.alternatives
        )
    )


def _inherited(kind: type, base: type, method: str) -> bool:
    """True when `kind` builds this part of its MIME tree as Django's `base` does."""
    return bool(getattr(kind, method) is getattr(base, method))


def _text_part(subtype: str, text: str) -> bytes | None:
    """A SafeMIMEText part, headers and body; None where Django would not write it 7- or
    8-bit (a line too long: quoted-printable) or could not encode it."""
    try:
        data = text.encode("utf-8")
    except UnicodeError:
        return None
    if len(data) > RFC5322_EMAIL_LINE_LENGTH_LIMIT and any(
        len(line.encode("utf-8")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()
    ):
        return None
    return _part_head(subtype, "7bit" if data.isascii() else "8bit") + LINE_END.sub(CRLF, data)


@lru_cache(maxsize=64)
def _part_head(subtype: str, transfer_encoding: str) -> bytes:
    """A text part's headers and the blank line after them (the same for every message)."""
    return (
        fold_header(SMTP_POLICY, "Content-Type", f'text/{subtype}; charset="utf-8"')
        + b"MIME-Version: 1.0\r\n"
        + f"Content-Transfer-Encoding: {transfer_encoding}\r\n\r\n".encode("ascii")
    )


def _top_headers(message: EmailMessage) -> list[tuple[str, str]]:
    """The headers EmailMessage.message() sets after the MIME ones, in its order, each as
    its __setitem__ stores it."""
    extra = message.extra_headers
    headers = [("Subject", message.subject), ("From", extra.get("From", message.from_email))]
    for name, values in (("To", message.to), ("Cc", message.cc), ("Reply-To", message.reply_to)):
        if name in extra:
            headers.append((name, extra[name]))
        elif values:
            headers.append((name, ", ".join(str(value) for value in values)))
    names = {name.lower() for name in extra}
    if "date" not in names:
        headers.append(("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
    if "message-id" not in names:
        headers.append(("Message-ID", make_msgid(domain=DNS_NAME)))
    headers += [(name, value) for name, value in extra.items() if name.lower() not in FIELD_HEADERS]
    encoding = message.encoding or settings.DEFAULT_CHARSET
    return [(name, header_value(name, value, encoding)) for name, value in headers]


def header_value(name: str, value: Any, encoding: str) -> str:
    """The value as SafeMIMEText.__setitem__ stores it (forbid_multi_line_headers): refused
    with a line break, non-ASCII encoded; a short plain Subject without the help of
    email.header, which it would come out of unchanged (and which is a third of the cost of
    writing a message)."""
    if name == "Subject" and isinstance(value, str) and fits_one_line(value):
        return value
    return str(forbid_multi_line_headers(name, value, encoding)[1])


def fits_one_line(value: str) -> bool:
    """True for a value that email.header's Header(value).encode() gives back unchanged:
    printable ASCII, no longer than the line it folds at, without spaces to fold or collapse."""
    return (
        len(value) <= HEADER_ENCODE_LINE
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
        and "  " not in value
    )


def _folded(headers: list[tuple[str, str]]) -> bytes:
    return b"".join(fold_header(SMTP_POLICY, name, value) for name, value in headers)
