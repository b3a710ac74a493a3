"""CSV export of search results, streamed: every column of the results, row by row.

Cells that a spreadsheet would run as a formula (=, +, -, @ first) get a leading apostrophe:
recipients' names and subjects are attacker-controlled text.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from commandcenter.campaigns.models import Step
from commandcenter.campaigns.queries import variant_letters
from commandcenter.outbox.models import Email
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
    "campaign_id",
    "campaign",
    "step_id",
    "step",
    "variant",
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
    "latest_campaign",
    "latest_step",
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


class CampaignNames:
    """The campaign name, step label and variant letter of each row's email, looked up once
    per step and variant however many rows share them (a streamed export reads no page)."""

    def __init__(self) -> None:
        self.steps: dict[int, tuple[str, str]] = {}
        self.letters: dict[int, str] = {}

    def of(self, email: Email) -> tuple[str, str, str]:
        if email.step_id is None:
            return "", "", ""
        if email.step_id not in self.steps:
            step = Step.objects.select_related("campaign").filter(pk=email.step_id).first()
            self.steps[email.step_id] = (step.campaign.name, step.label) if step else ("", "")
        if email.variant_id and email.variant_id not in self.letters:
            self.letters.update(variant_letters([email.variant_id]))
        campaign, step_label = self.steps[email.step_id]
        return campaign, step_label, self.letters.get(email.variant_id or 0, "")


def email_row(row: Result, names: CampaignNames) -> list[Any]:
    email, person = row.email, row.person
    campaign, step, variant = names.of(email)
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
        email.campaign_id,
        campaign,
        email.step_id,
        step,
        variant,
    ]


def person_row(row: Result, names: CampaignNames) -> list[Any]:
    email, person = row.email, row.person
    campaign, step, _variant = names.of(email)
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
        campaign,
        step,
    ]


def csv_lines(rows: Iterable[Result], results: str) -> Iterator[str]:
    writer = csv.writer(_Line())
    people = results == "people"
    yield writer.writerow(PEOPLE_COLUMNS if people else EMAIL_COLUMNS)
    names = CampaignNames()
    for row in rows:
        values = person_row(row, names) if people else email_row(row, names)
        yield writer.writerow([_cell(value) for value in values])
