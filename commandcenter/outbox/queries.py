"""Reading the outbox: folder counts and keyset-paginated folder pages.

One home for the queries the API, the web UI and the benchmarks use, so the indexes
(`email_folder_page`: owner, status, -sort_at, -id) serve all of them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from commandcenter.outbox.counts import counts_by_status
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import FOLDERS, Status

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


# The columns a list never shows: what went out and what was written, in full.
BODIES = ("body_text", "body_html", "template_body_text", "template_body_html")


class BadCursor(ValueError):
    pass


def folder_counts(owner_ids: Iterable[int]) -> dict[str, int]:
    """{folder: number of emails} for every folder, zeros included.

    Read from the counts cache the database keeps (outbox/counts.py): constant time,
    however many emails the owners have.
    """
    by_status = counts_by_status(owner_ids)
    return {folder: by_status.get(folder, 0) for folder in FOLDERS}


@dataclass
class Page:
    emails: list[Email]
    next_cursor: str | None


def encode_cursor(email: Email) -> str:
    raw = json.dumps([email.sort_at.isoformat(), email.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment, number = dt.datetime.fromisoformat(when), int(pk)
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError) as error:
        raise BadCursor("The cursor is not one this API gave out.") from error
    # Decodable is not enough: it must be something encode_cursor could have produced.
    if moment.tzinfo is None or not 0 < number < 2**63:
        raise BadCursor("The cursor is not one this API gave out.")
    return moment, number


def folder_page(
    owner_ids: Iterable[int],
    folder: str,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    search: str = "",
    brief: bool = False,
) -> Page:
    """One page of a folder, newest first by the folder's date, then by id.

    `brief` leaves the bodies out (a list shows subjects; the bodies are read with the email).
    """
    if folder not in FOLDERS:
        raise ValueError(f"Unknown folder {folder!r}; folders are: {', '.join(FOLDERS)}.")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    queryset = Email.objects.filter(owner_id__in=list(owner_ids), status=folder)
    if search:
        queryset = queryset.filter(
            Q(to_address__icontains=search)
            | Q(subject__icontains=search)
            | Q(person__first_name__icontains=search)
            | Q(person__last_name__icontains=search)
            | Q(person__company__icontains=search)
        )
    if cursor:
        when, pk = decode_cursor(cursor)
        queryset = queryset.filter(Q(sort_at__lt=when) | Q(sort_at=when, id__lt=pk))
    queryset = queryset.select_related("person").order_by("-sort_at", "-id")
    if brief:
        queryset = queryset.defer(*BODIES)
    emails = list(queryset[: limit + 1])
    more = len(emails) > limit
    emails = emails[:limit]
    return Page(emails, encode_cursor(emails[-1]) if more and emails else None)


__all__ = ["FOLDERS", "Status", "folder_counts", "folder_page"]
