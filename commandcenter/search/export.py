"""CSV export of search results, streamed: every column of the results, row by row.

Cells that a spreadsheet would run as a formula (=, +, -, @ first) get a leading apostrophe:
recipients' names and subjects are attacker-controlled text.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from commandcenter.search.query import Result

EMAIL_COLUMNS = [
    "id",
    "status",
    "reason",
    "to",
    "first_name",
    "last_name",
    "company",
    "title",
    "subject",
    "owner",
    "created_at",
    "send_at",
    "sent_at",
    "failed_at",
    "opens",
    "clicks",
    "replies",
    "message_id",
    "batch",
]
PEOPLE_COLUMNS = [
    "person_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "owner",
    "matching_emails",
    "score",
    "latest_email_id",
    "latest_subject",
    "latest_status",
    "latest_sent_at",
    "opens",
    "clicks",
    "replies",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """A file-like object whose write() hands back what csv wrote."""

    def write(self, text: str) -> str:
        return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def email_row(row: Result) -> list[Any]:
    email, person = row.email, row.person
    return [
        email.pk,
        email.status,
        email.reason,
        email.to_address,
        person.first_name,
        person.last_name,
        person.company,
        person.title,
        email.subject,
        email.owner.username,
        email.created_at,
        email.send_at,
        email.sent_at,
        email.failed_at,
        email.opens,
        email.clicks,
        email.replies,
        email.message_id,
        email.batch_id,
    ]


def person_row(row: Result) -> list[Any]:
    email, person = row.email, row.person
    return [
        person.pk,
        person.email,
        person.first_name,
        person.last_name,
        person.company,
        person.title,
        email.owner.username,
        row.emails,
        row.score,
        email.pk,
        email.subject,
        email.status,
        email.sent_at,
        email.opens,
        email.clicks,
        email.replies,
    ]


def csv_lines(rows: Iterable[Result], results: str) -> Iterator[str]:
    writer = csv.writer(_Line())
    people = results == "people"
    yield writer.writerow(PEOPLE_COLUMNS if people else EMAIL_COLUMNS)
    for row in rows:
        values = person_row(row) if people else email_row(row)
        yield writer.writerow([_cell(value) for value in values])
