"""Keyset pagination on the wire: the next page goes in `Link: <…>; rel="next"` and
`X-Next-Cursor`, so that a list answers with a plain JSON list."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query
from ninja.responses import Response

from commandcenter.api.schemas import Text
from commandcenter.outbox.queries import MAX_PAGE_SIZE, PAGE_SIZE, BadCursor, decode_cursor

# The largest id either database stores: anything beyond is simply not found.
MAX_ID = 2**63 - 1
MAX_SEARCH = 200

# The query parameters every list takes.
Limit = Annotated[int, Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per page.")]
Cursor = Annotated[Text | None, Query(None, description="X-Next-Cursor of the previous page.")]
Search = Annotated[Text, Query("", max_length=MAX_SEARCH, description="Words to look for.")]


def check_cursor(cursor: str) -> None:
    """Refuse (BadCursor) a folder cursor that decodes but would break the query."""
    try:
        when, pk = decode_cursor(cursor)
        if timezone.is_naive(when) or not 0 <= pk <= MAX_ID:
            raise BadCursor("The cursor is not one this API gave out.")
        when.astimezone(dt.UTC)
    except OverflowError:
        # e.g. an id of Infinity, or a time at the edge of the calendar.
        raise BadCursor("The cursor is not one this API gave out.") from None


def page_response(
    request: HttpRequest, rows: list[dict[str, Any]], next_cursor: str | None
) -> HttpResponse:
    """A page as a plain JSON list, the next page in its headers.

    Built here rather than validated by ninja against the response schema: that check of
    rows we just built ourselves cost a quarter of a page's time.
    """
    response = Response(rows)
    if next_cursor is not None:
        query = request.GET.copy()
        query["cursor"] = next_cursor
        url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        response["Link"] = f'<{url}>; rel="next"'
        response["X-Next-Cursor"] = next_cursor
    return response


def encode_id_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")


def decode_id_cursor(cursor: str) -> int:
    """The id an id cursor stands for; BadCursor when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        pk = int(text) if text.isdigit() else -1
    except (ValueError, binascii.Error, UnicodeError):
        pk = -1
    if not 0 < pk <= MAX_ID:
        raise BadCursor("The cursor is not one this API gave out.")
    return pk
