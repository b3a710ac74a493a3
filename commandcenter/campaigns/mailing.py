"""The one place campaigns touch the outbox's compose and merge rules.

Campaign emails are ordinary Emails made by `outbox.compose.compose_bulk` (so the merge-field
rule, blocked recipients and the initial state are the same as for any email) and then
marked as the campaign's: campaign, step, enrolment, variant, thread references and the due
time the step was planned for. Whatever the outbox decides about merge fields flows in here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from commandcenter.accounts.models import User
from commandcenter.outbox import merge
from commandcenter.outbox.compose import MAX_GROUP, Content, Recipient, compose_bulk
from commandcenter.outbox.models import Batch, Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person

# The merge fields every person has (custom fields come on top, per owner).
STANDARD_FIELDS = frozenset(
    {"first_name", "last_name", "title", "company", "email", "my_name", "my_signature", "my_email"}
)


def fields_in(*templates: str) -> list[str]:
    return merge.fields_in(*templates)


def known_fields(owner: User) -> set[str]:
    """Merge fields a template of this owner may use: the standard ones and every custom
    field one of their people has."""
    names = set(STANDARD_FIELDS)
    for custom in (
        Person.objects.filter(owner=owner)
        .exclude(custom_fields={})
        .values_list("custom_fields", flat=True)[:10_000]
    ):
        if isinstance(custom, dict):
            names.update(custom)
    return names


def preview(template: str, person: Person, owner: User, *, html: bool = False) -> str:
    """A template filled for one person (MissingMergeField when it cannot be)."""
    return merge.render(template, person, owner, html_escape=html)


@dataclass
class Outgoing:
    """One campaign email to make."""

    enrolment_id: int
    person: Person
    content: Content
    due_at: dt.datetime
    campaign_id: int
    step_id: int
    variant_id: int | None = None
    references: str = ""


def make_emails(owner: User, outgoing: Sequence[Outgoing]) -> list[Email]:
    """Create the emails (Scheduled, or Failed with the outbox's reason), marked as the
    campaign's; in the caller's transaction."""
    made: list[Email] = []
    groups: dict[tuple[str, str, str], list[Outgoing]] = defaultdict(list)
    for item in outgoing:
        key = (item.content.subject, item.content.body_text, item.content.body_html)
        groups[key].append(item)
    with transaction.atomic(savepoint=False):
        for items in groups.values():
            for start in range(0, len(items), MAX_GROUP):
                made += _make_group(owner, items[start : start + MAX_GROUP])
    return made


def _make_group(owner: User, items: list[Outgoing]) -> list[Email]:
    batch, emails = compose_bulk(
        owner,
        mode=Batch.Mode.GROUP,
        recipients=[Recipient(item.person.email.lower()) for item in items],
        content=items[0].content,
        # The engine runs unattended: a person whose field is empty gets a Failed email
        # saying which, and the step goes on for the others.
        fail_unfillable=True,
    )
    pairs = list(zip(emails, items, strict=True))
    first = items[0]
    # What the whole group shares, with the planned due time of the scheduled ones (most of
    # a batch shares one): one UPDATE per distinct time. A campaign's emails are not a Group
    # send: no batch rolls them up in the folders.
    shared = {
        "batch": None,
        "campaign_id": first.campaign_id,
        "step_id": first.step_id,
        "variant_id": first.variant_id,
    }
    by_due: dict[dt.datetime | None, list[int]] = defaultdict(list)
    for email, item in pairs:
        by_due[item.due_at if email.status == Status.SCHEDULED else None].append(email.pk)
    for due, ids in by_due.items():
        times = {} if due is None else {"send_at": due, "due_at": due, "sort_at": due}
        Email.objects.filter(pk__in=ids).update(**shared, **times)
    set_per_email("enrolment_id", {e.pk: item.enrolment_id for e, item in pairs})
    threaded = {e.pk: item.references for e, item in pairs if item.references}
    if threaded:
        set_per_email("reference_ids", threaded)
    batch.delete()
    for email, item in pairs:
        email.batch = None
        email.campaign_id, email.step_id = item.campaign_id, item.step_id
        email.enrolment_id, email.variant_id = item.enrolment_id, item.variant_id
        email.reference_ids = item.references
        if email.status == Status.SCHEDULED:
            email.send_at = email.due_at = email.sort_at = item.due_at
    return emails


# {rows}: "(%s, %s)" per email. A join with the values: a CASE of 500 branches costs
# 500 comparisons a row. Only our own column names are put into the statement.
PER_EMAIL_SQL = (
    'WITH v(id, value) AS (VALUES {rows}) UPDATE "outbox_email" SET "{column}" = v.value '
    'FROM v WHERE "outbox_email"."id" = v.id'
)
PER_EMAIL_COLUMNS = frozenset({"enrolment_id", "reference_ids"})
ROWS_PER_UPDATE = 500


def set_per_email(column: str, values: Mapping[int, int | str]) -> None:
    """Give each email its own value of one column, 500 at a time."""
    if column not in PER_EMAIL_COLUMNS:
        raise ValueError(f"not a per-email column: {column}")
    ids = list(values)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), ROWS_PER_UPDATE):
            chunk = ids[start : start + ROWS_PER_UPDATE]
            statement = PER_EMAIL_SQL.format(
                column=column, rows=", ".join(["(%s, %s)"] * len(chunk))
            )
            cursor.execute(statement, [v for pk in chunk for v in (pk, values[pk])])


def thread_references(previous: Email) -> str:
    """The References of a follow-up to `previous`: its own, then its Message-ID."""
    return " ".join(part for part in (previous.reference_ids, previous.message_id) if part)


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def emails_of(enrolment_ids: Iterable[int], step_id: int) -> dict[int, Email]:
    return {
        e.enrolment_id: e
        for e in Email.objects.filter(enrolment_id__in=list(enrolment_ids), step_id=step_id)
        if e.enrolment_id is not None
    }
