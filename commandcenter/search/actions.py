"""Acting on search results: a task for each person, enrolment in a campaign, and the people
and threads of a follow-up. One home for the web pages and the API.

An action takes the people of a selection (the ticked rows, or all N results), each once,
with the email that stands for them in the results. Only one's own people are acted on; the
others (an admin's team view) are refused, each with the reason, and the rest go on. The
rules of each act are the other apps': tasks.services.create_task, campaigns.enrol.enrol,
outbox.compose (its Select and Send, and its one threading rule).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from commandcenter.accounts.models import User
from commandcenter.campaigns import enrol
from commandcenter.campaigns.builder import visible_campaigns
from commandcenter.campaigns.models import Campaign
from commandcenter.outbox.compose import (
    MAX_SELECT_AND_SEND,
    Content,
    Recipient,
    copy_content,
    first_reply_subject,
    thread_references,
)
from commandcenter.outbox.merge import defaults_for, missing_reason, render_parts
from commandcenter.outbox.models import Email
from commandcenter.people.models import Person
from commandcenter.people.services import blocking_reasons
from commandcenter.search.filters import Group
from commandcenter.search.query import Scope, iterate, matching_emails
from commandcenter.tasks.services import MAX_TITLE, TaskFields, create_task

# "All N results" acts on at most this many people at once (a campaign's enrolment limit).
MAX_PEOPLE = enrol.MAX_ENROL


class TooManyPeople(ValueError):
    """The selection has more people than the action takes at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            _("This acts on at most %(n)s people at once; narrow the search or tick rows.")
            % {"n": f"{limit:,}"}
        )


@dataclass
class Chosen:
    """One person of the selection and the email that stands for them in the results."""

    person: Person
    email: Email


@dataclass
class Refusal:
    address: str
    reason: str


@dataclass
class Outcome:
    """What an action made (tasks, enrolments) and whom it refused, with why."""

    made: list[Any] = field(default_factory=list)  # the Tasks or Enrolments
    refused: list[Refusal] = field(default_factory=list)


def chosen_people(
    group: Group, scope: Scope, *, results: str, sort: str, limit: int = MAX_PEOPLE
) -> list[Chosen]:
    """The people of the results, each once, in the results' order; TooManyPeople past
    `limit`."""
    chosen: dict[int, Chosen] = {}
    for row in iterate(group, scope, results=results, sort=sort):
        if row.person.pk not in chosen:
            if len(chosen) == limit:
                raise TooManyPeople(limit)
            chosen[row.person.pk] = Chosen(row.person, row.email)
    return list(chosen.values())


def split_own(user: User, chosen: Iterable[Chosen]) -> tuple[list[Chosen], list[Refusal]]:
    """The user's own people, and a refusal for each of someone else's."""
    own, refused = [], []
    for item in chosen:
        if item.person.owner_id == user.pk:
            own.append(item)
        else:
            refused.append(Refusal(item.person.email, _("Not one of your people.")))
    return own, refused


# -- tasks ----------------------------------------------------------------------------------


def tasks_for_each(user: User, chosen: Sequence[Chosen], fields: TaskFields) -> Outcome:
    """One task per person (tasks.services.create_task), all or none: bad task fields
    (TaskError) make none. A task with no title is named after the person's email."""
    own, refused = split_own(user, chosen)
    outcome = Outcome(refused=refused)
    with transaction.atomic():
        for item in own:
            if item.person.do_not_contact:
                outcome.refused.append(Refusal(item.person.email, _("Do not contact.")))
                continue
            title = fields.title or _("Follow up: %(subject)s") % {"subject": item.email.subject}
            task_fields = dataclasses.replace(
                fields, person=item.person.email, title=title[:MAX_TITLE]
            )
            outcome.made.append(create_task(user, task_fields))
    return outcome


# -- campaigns ------------------------------------------------------------------------------


def enrollable_campaigns(user: User) -> QuerySet[Campaign]:
    """The campaigns the user may enrol their people in: their own, or shared with their
    team."""
    return Campaign.objects.filter(visible_campaigns(user, (user.pk,)))


def usable_campaign(user: User, campaign_id: object) -> Campaign | None:
    """One of enrollable_campaigns, by id; None for any other id."""
    if isinstance(campaign_id, bool) or not isinstance(campaign_id, int):
        return None
    if not 0 < campaign_id < 2**63:
        return None
    return enrollable_campaigns(user).filter(pk=campaign_id).first()


def enrol_each(user: User, campaign: Campaign, chosen: Sequence[Chosen]) -> Outcome:
    """Enrol the people (campaigns.enrol.enrol: hundreds at once, each enrolled or refused
    with the reason); CampaignError when the campaign takes no one (stopped, no steps)."""
    own, refused = split_own(user, chosen)
    outcome = Outcome(refused=refused)
    if not own:
        return outcome
    result = enrol.enrol(user, campaign, [item.person.email for item in own])
    outcome.made.extend(result.enrolled)
    outcome.refused.extend(Refusal(r.address, r.reason) for r in result.refused)
    return outcome


# -- follow-up ------------------------------------------------------------------------------


@dataclass
class FollowUp:
    """The people a follow-up goes to, and the email each one engaged with (the one it
    answers, in its thread; None: it was never sent, so the follow-up starts a new one)."""

    people: list[Person]
    threads: dict[int, Email]
    refused: list[Refusal]


def follow_up(user: User, group: Group, scope: Scope, *, results: str, sort: str) -> FollowUp:
    """Who a follow-up of the selection goes to (at most Select and Send's 200 people) and
    what it answers; TooManyPeople beyond."""
    chosen = chosen_people(group, scope, results=results, sort=sort, limit=MAX_SELECT_AND_SEND)
    own, refused = split_own(user, chosen)
    people = [item.person for item in own]
    return FollowUp(people, engaged_emails(group, scope, people), refused)


def engaged_emails(group: Group, scope: Scope, people: Sequence[Person]) -> dict[int, Email]:
    """Person id -> the email of theirs among the results that they engaged with most
    recently (a sent one: it has a Message-ID to answer), else their latest sent one."""
    if not people:
        return {}
    emails = (
        matching_emails(group, scope)
        .filter(person_id__in=[p.pk for p in people])
        .exclude(message_id="")
        .annotate(engaged_total=F("opens") + F("clicks") + F("replies"))
        .defer("body_text", "body_html", "template_body_text", "template_body_html")
        .order_by("person_id")
    )
    best: dict[int, Email] = {}
    for email in emails:
        current = best.get(email.person_id)
        if current is None or _rank(email) > _rank(current):
            best[email.person_id] = email
    return best


def _rank(email: Email) -> tuple[bool, int]:
    return (getattr(email, "engaged_total", 0) > 0, email.pk)


def follow_up_recipients(chosen: FollowUp) -> list[Recipient]:
    return [Recipient(p.email, thread=chosen.threads.get(p.pk)) for p in chosen.people]


def default_subject(chosen: FollowUp) -> str:
    """The shared subject when the rep gives none (compose.first_reply_subject)."""
    return first_reply_subject(chosen.threads.values())


def preview(user: User, chosen: FollowUp, shared: Content) -> list[dict[str, Any]]:
    """Each copy as it would go out (outbox.compose's content and merge rules), with the
    thread it answers and what would stop it."""
    blocked = blocking_reasons(chosen.people)
    defaults = defaults_for(user)
    copies = []
    for person, recipient in zip(chosen.people, follow_up_recipients(chosen), strict=True):
        content = copy_content(recipient, shared).completed()
        rendered, missing = render_parts(
            person, user, content.subject, content.body_text, content.body_html, defaults=defaults
        )
        problem = blocked.get(person.pk, "")
        if missing and not problem:
            problem = missing_reason(missing, [person.email])
        thread = recipient.thread
        copies.append(
            {
                "to": person.email,
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
                "in_reply_to": thread.message_id if thread else None,
                "references": thread_references(thread) if thread else "",
                "answers": thread.pk if thread else None,
                "problem": problem,
            }
        )
    return copies
