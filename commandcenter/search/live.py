"""Saved searches as dynamic lists: as signals land, the emails they touched join or leave.

signals/record.py calls `signals_recorded()` with the emails a batch of signals touched, in
the same transaction: each saved search that may cover those emails is evaluated on them
alone (a query over a handful of ids), members are added or removed, and a FeedItem says so
for the live feed. A failure here is logged and never costs the signals themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.search.filters import FilterError
from commandcenter.search.models import FeedItem, Member, SavedSearch
from commandcenter.search.query import matching_emails
from commandcenter.search.saved import parsed, scope_of

logger = logging.getLogger(__name__)


def signals_recorded(email_ids: Iterable[int]) -> None:
    """Bring the saved searches up to date with these emails (called by record.py)."""
    ids = sorted(set(email_ids))
    if not ids:
        return
    try:
        with transaction.atomic():
            refresh(ids)
    except (DatabaseError, FilterError):
        logger.exception("updating saved searches for %d emails failed", len(ids))


def candidate_searches(owner_ids: set[int]) -> list[SavedSearch]:
    """The saved searches that may cover emails of these owners: theirs and their teams'."""
    teams = set(
        User.objects.filter(pk__in=owner_ids, team_id__isnull=False).values_list(
            "team_id", flat=True
        )
    )
    condition = Q(owner_id__in=owner_ids)
    if teams:
        condition |= Q(owner__team_id__in=teams)
    return list(SavedSearch.objects.filter(condition).select_related("owner"))


def refresh(ids: list[int]) -> int:
    """Joins and leaves for these emails in every saved search concerned; how many."""
    owners = dict(Email.objects.filter(pk__in=ids).values_list("pk", "owner_id"))
    if not owners:
        return 0
    now = timezone.now()
    changes = 0
    for saved in candidate_searches(set(owners.values())):
        scope = scope_of(saved)
        covered = [pk for pk, owner in owners.items() if owner in scope.owner_ids]
        if not covered:
            continue
        try:
            matching = matching_emails(parsed(saved), scope)
        except FilterError:
            # It names what its owner may no longer see (a teammate who left the team, a
            # campaign no longer shared): it matches nothing now, and the others go on.
            continue
        matched = set(matching.filter(pk__in=covered).values_list("pk", flat=True))
        members = set(
            Member.objects.filter(search=saved, email_id__in=covered).values_list(
                "email_id", flat=True
            )
        )
        joined, left = sorted(matched - members), sorted(members - matched)
        if joined:
            Member.objects.bulk_create(
                [Member(search=saved, email_id=pk, joined_at=now) for pk in joined],
                ignore_conflicts=True,
            )
        if left:
            Member.objects.filter(search=saved, email_id__in=left).delete()
        FeedItem.objects.bulk_create(
            [FeedItem(search=saved, email_id=pk, kind="joined", created_at=now) for pk in joined]
            + [FeedItem(search=saved, email_id=pk, kind="left", created_at=now) for pk in left]
        )
        changes += len(joined) + len(left)
    return changes
