"""The one place campaigns touch the outbox's compose and merge rules.

Campaign emails are ordinary Emails made by `outbox.compose.compose_step_emails` (Group
send's rules: the merge-field rule, blocked recipients and the initial state are the same as
for any email), created marked as the campaign's: campaign, step, enrolment, variant, thread
references and the due time the step was planned for. Whatever the outbox decides about
merge fields flows in here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from commandcenter.accounts.models import User
from commandcenter.outbox import merge
from commandcenter.outbox.compose import (
    MAX_GROUP,
    Content,
    StepMarks,
    compose_step_emails,
)
from commandcenter.outbox.models import Email
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
    """One campaign email to make: to whom, what, and what it carries (StepMarks)."""

    person: Person
    content: Content
    marks: StepMarks


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
    return compose_step_emails(
        owner, [item.person for item in items], items[0].content, [item.marks for item in items]
    )


def emails_of(enrolment_ids: Iterable[int], step_id: int) -> dict[int, Email]:
    return {
        e.enrolment_id: e
        for e in Email.objects.filter(enrolment_id__in=list(enrolment_ids), step_id=step_id)
        if e.enrolment_id is not None
    }
