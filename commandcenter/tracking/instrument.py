"""What the sender adds to each email for tracking and unsubscribes.

The sender calls these two functions while it builds a message; they are the whole
interface between delivery and tracking. Every http(s) link becomes
PUBLIC_URL/t/c/<token>, the URL behind each token recorded here, at send time, so that
the click redirect never goes anywhere the sender did not write.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection

from commandcenter.tracking.models import new_link_token

if TYPE_CHECKING:
    from commandcenter.outbox.models import Email

# The tags whose href is a link a reader can follow (v:roundrect: Outlook's VML buttons).
LINK_TAGS = frozenset({"a", "area", "v:roundrect"})
# Links that are never wrapped: the recipient's way out must work even if tracking is down,
# and a scanner following it must not count as a click.
UNTRACKED_WORDS = re.compile(r"unsubscribe|opt-?out|optout", re.IGNORECASE)
TEXT_URL = re.compile(r"\bhttps?://[^\s<>\"'\[\]{}|\\^`]+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?'\""
# The links recorded for some emails ({ids}: one %s each), and a new one. Plain SQL: the
# ORM's query building and model instances cost more than the rewriting itself.
RECORDED_LINKS_SQL = (
    'SELECT "email_id", "token", "url", "position" FROM "tracking_trackedlink" '
    'WHERE "email_id" IN ({ids}) ORDER BY "email_id", "position"'
)
INSERT_LINKS_SQL = (
    'INSERT INTO "tracking_trackedlink" ("email_id", "token", "url", "position") VALUES {rows}'
)
LINK_ROW = "(%s, %s, %s, %s)"
# Well within SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement.
LINKS_PER_INSERT = 1000
PIXEL = (
    '<img src="{src}" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0" />'
)


def public_url(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}"


def pixel_url(email: Email) -> str:
    return public_url(f"/t/o/{email.token}.gif")


def click_url(token: str) -> str:
    return public_url(f"/t/c/{token}")


def unsubscribe_url(email: Email) -> str:
    """The page (and RFC 8058 one-click target) that unsubscribes the email's recipient."""
    return public_url(f"/t/u/{email.token}")


def unsubscribe_mailto(email: Email) -> str:
    return f"unsubscribe+{email.token}@{settings.BOUNCE_DOMAIN}"


def instrument(email: Email, body_html: str, body_text: str) -> tuple[str, str]:
    """The rendered bodies with links rewritten and the open pixel added."""
    return instrument_many([(email, body_html, body_text)])[0]


def instrument_many(items: Sequence[tuple[Email, str, str]]) -> list[tuple[str, str]]:
    """instrument() for several emails (each given with its rendered HTML and text bodies):
    one SELECT of the links recorded earlier and one INSERT (per thousand) of the new ones.

    Run it inside the transaction that records the emails' handoffs, so that the links
    become durable together with the messages that carry them.
    """
    books = _LinkBook.for_emails([email for email, _, _ in items])
    # The emails of a group send often have the very same HTML: it is parsed once.
    parsed: dict[str, _LinkFinder] = {}
    out = []
    for email, body_html, body_text in items:
        links = books[email.pk]
        html_out = _instrument_html(body_html, links, pixel_url(email), parsed) if body_html else ""
        text_out = _rewrite_text(body_text, links) if body_text else body_text
        out.append((html_out, text_out))
    new = [row for book in books.values() for row in book.new]
    with connection.cursor() as cursor:
        # Few statements for all the new links (only placeholders are put into them).
        for start in range(0, len(new), LINKS_PER_INSERT):
            chunk = new[start : start + LINKS_PER_INSERT]
            cursor.execute(
                INSERT_LINKS_SQL.format(rows=", ".join([LINK_ROW] * len(chunk))),
                [value for row in chunk for value in row],
            )
    return out


def unsubscribe_headers(email: Email) -> dict[str, str]:
    """List-Unsubscribe and List-Unsubscribe-Post headers for the email (RFC 2369, RFC 8058)."""
    return {
        "List-Unsubscribe": f"<mailto:{unsubscribe_mailto(email)}>, <{unsubscribe_url(email)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def trackable(raw_url: str) -> str | None:
    """The absolute http(s) URL to record for a link, or None to leave the link alone
    (mailto:, tel:, relative links, fragments, our own tracking and unsubscribe links)."""
    # Browsers drop surrounding whitespace and any tab or newline inside a URL; NUL, which
    # no database column takes, goes as the %00 the redirect would send anyway.
    url = re.sub(r"[\t\n\r]", "", raw_url.strip()).replace("\x00", "%00")
    if url.startswith("//"):
        url = "https:" + url
    if not re.match(r"https?://[^/?#\s]", url, re.IGNORECASE):
        return None
    if url.lower().startswith(public_url("/t/").lower()) or UNTRACKED_WORDS.search(url):
        return None
    return url


class _LinkBook:
    """The email's tracked links: reuses the ones recorded by an earlier attempt to send it,
    so a link in a copy that already went out keeps working. New ones are kept as rows for
    INSERT_LINKS_SQL."""

    def __init__(self, email: Email) -> None:
        self.email = email
        # The tokens of the recorded links not used yet, by URL, in their order.
        self.unused: dict[str, list[str]] = {}
        self.next_position = 0
        self.new: list[tuple[int, str, str, int]] = []

    @classmethod
    def for_emails(cls, emails: Sequence[Email]) -> dict[int, _LinkBook]:
        """A book per email, filled with its recorded links in one query."""
        books = {email.pk: cls(email) for email in emails}
        if not books:
            return books
        with connection.cursor() as cursor:
            # Only placeholders are put into the statement.
            cursor.execute(
                RECORDED_LINKS_SQL.format(ids=", ".join(["%s"] * len(books))), list(books)
            )
            for email_id, token, url, position in cursor.fetchall():
                books[email_id].add_recorded(token, url, position)
        return books

    def add_recorded(self, token: str, url: str, position: int) -> None:
        self.unused.setdefault(url, []).append(token)
        self.next_position = position + 1

    def url_for(self, url: str) -> str:
        reusable = self.unused.get(url)
        if reusable:
            return click_url(reusable.pop(0))
        token = new_link_token()
        self.new.append((self.email.pk, token, url, self.next_position))
        self.next_position += 1
        return click_url(token)


class _LinkFinder(HTMLParser):
    """Finds the raw text of each link tag and where </body> is, as offsets into the
    document, so that everything else is written back byte for byte."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", document)]
        self.tags: list[tuple[int, int, str, list[tuple[str, str | None]], bool]] = []
        self.body_end: int | None = None

    def document_offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._link_tag(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._link_tag(tag, attrs, closed=True)

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self.document_offset()

    def _link_tag(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        raw = self.get_starttag_text()
        if tag in LINK_TAGS and raw is not None:
            start = self.document_offset()
            self.tags.append((start, start + len(raw), tag, attrs, closed))


def _instrument_html(
    document: str, links: _LinkBook, pixel_src: str, parsed: dict[str, _LinkFinder]
) -> str:
    finder = parsed.get(document)
    if finder is None:
        finder = parsed[document] = _LinkFinder(document)
        finder.feed(document)
        finder.close()
    edits: list[tuple[int, int, str]] = []
    for start, end, tag, attrs, closed in finder.tags:
        rewritten = _rewrite_tag(tag, attrs, closed, links)
        if rewritten is not None:
            edits.append((start, end, rewritten))
    pixel = PIXEL.format(src=html.escape(pixel_src))
    at = finder.body_end if finder.body_end is not None else len(document)
    edits.append((at, at, pixel))
    return _splice(document, edits)


def _rewrite_tag(
    tag: str, attrs: list[tuple[str, str | None]], closed: bool, links: _LinkBook
) -> str | None:
    """The tag with its first href pointing at a tracking URL; None when it stays as it is."""
    for index, (name, value) in enumerate(attrs):
        if name != "href":
            continue
        url = trackable(value or "")
        if url is None:
            return None
        attrs = [*attrs[:index], (name, links.url_for(url)), *attrs[index + 1 :]]
        parts = [tag] + [
            name if value is None else f'{name}="{html.escape(value)}"' for name, value in attrs
        ]
        return "<" + " ".join(parts) + (" />" if closed else ">")
    return None


def _splice(document: str, edits: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        out.append(document[position:start])
        out.append(replacement)
        position = end
    out.append(document[position:])
    return "".join(out)


def _rewrite_text(text: str, links: _LinkBook) -> str:
    return TEXT_URL.sub(lambda match: _rewrite_text_url(match.group(0), links), text)


def _rewrite_text_url(found: str, links: _LinkBook) -> str:
    url, tail = _split_trailing(found)
    tracked = trackable(url)
    return found if tracked is None else links.url_for(tracked) + tail


def _split_trailing(found: str) -> tuple[str, str]:
    """Separates punctuation that ends the sentence, not the URL ("see https://x.io/a.")."""
    url = found
    while url:
        last = url[-1]
        if last in TRAILING_PUNCTUATION or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
            continue
        break
    return url, found[len(url) :]
