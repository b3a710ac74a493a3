"""Saved searches: save, rename, change, share, delete, count and read — one home for the API
and the web pages.

Whose emails a saved search covers: its owner's (an admin owner: the team's); a shared one
covers the owner's whole team, and each reader sees only the emails they may see. "me" in its
filter is always its owner. Counts and results are computed when read, so they are always
current; `Member` rows (kept as signals land, live.py) say since when a row is in the list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.search import filters
from commandcenter.search.filters import FilterError
from commandcenter.search.models import Member, SavedSearch, Seen
from commandcenter.search.query import (
    DEFAULT_SORT,
    RESULTS,
    Page,
    Scope,
    compile_filter,
    count,
    count_many,
    matching_emails,
    scope_for,
    search,
    sorts_for,
)

MAX_NAME = 200
MAX_SAVED_PER_USER = 200


class SavedSearchError(ValueError):
    """Bad input for a saved search: {field: message}."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def readable(user: User) -> QuerySet[SavedSearch]:
    """The saved searches a user sees: their own and those shared with their team."""
    shared = Q(shared=True, owner__team_id=user.team_id) if user.team_id else Q(pk__in=[])
    return SavedSearch.objects.filter(Q(owner=user) | shared).select_related("owner")


def get_readable(user: User, pk: int) -> SavedSearch | None:
    if not 0 < pk < 2**63:
        return None
    return readable(user).filter(pk=pk).first()


def covered_owner_ids(saved: SavedSearch) -> tuple[int, ...]:
    """Whose emails the search covers, before any reader's view of it."""
    owner = saved.owner
    if saved.shared and owner.team_id is not None:
        users = User.objects.filter(team_id=owner.team_id)
    else:
        users = owner.viewable_users()
    return tuple(users.order_by("pk").values_list("pk", flat=True))


def scope_of(saved: SavedSearch, reader: User | None = None, tz: dt.tzinfo = dt.UTC) -> Scope:
    """The search's scope; for a reader, cut to the emails that reader may see."""
    owners = covered_owner_ids(saved)
    if reader is not None:
        visible = set(reader.viewable_users().values_list("pk", flat=True))
        owners = tuple(pk for pk in owners if pk in visible)
    return scope_for(saved.owner, owners or (0,), tz)


def parsed(saved: SavedSearch) -> filters.Group:
    return filters.parse(saved.filter)


def as_search(
    saved: SavedSearch, reader: User, tz: dt.tzinfo = dt.UTC
) -> tuple[filters.Group, Scope, str, str]:
    """What running the saved search means for a reader: its filter, its scope cut to what
    the reader may see, its results (emails or people) and its sort."""
    return parsed(saved), scope_of(saved, reader, tz), saved.results, saved.sort or DEFAULT_SORT


@dataclass(frozen=True)
class Draft:
    """The fields of a saved search as the caller gave them (None: unchanged)."""

    name: str | None = None
    filter: Any = None
    results: str | None = None
    sort: str | None = None
    shared: bool | None = None


def _checked(owner: User, draft: Draft, current: SavedSearch | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if draft.name is not None or current is None:
        name = (draft.name or "").strip()
        if not name:
            errors["name"] = "A saved search needs a name."
        elif len(name) > MAX_NAME:
            errors["name"] = f"At most {MAX_NAME} characters."
        values["name"] = name
    if draft.filter is not None or current is None:
        try:
            group = filters.parse(draft.filter)
            # Compile it once in the owner's scope: an owner they cannot see is refused now.
            scope = scope_for(owner, tuple(owner.viewable_users().values_list("pk", flat=True)))
            compile_filter(group, scope.context())
        except FilterError as error:
            errors[f"filter.{error.path}" if error.path != "filter" else "filter"] = error.message
        values["filter"] = _stored(draft.filter)
    results = (
        draft.results if draft.results is not None else (current.results if current else "emails")
    )
    if results not in RESULTS:
        errors["results"] = f"Expected one of {', '.join(RESULTS)}."
    values["results"] = results
    sort = draft.sort if draft.sort is not None else (current.sort if current else "")
    if sort and sort not in sorts_for(results):
        errors["sort"] = f"Unknown sort {sort[:40]!r}; one of {', '.join(sorts_for(results))}."
    values["sort"] = sort
    if draft.shared is not None:
        values["shared"] = draft.shared
    if errors:
        raise SavedSearchError(errors)
    return values


def _stored(document: Any) -> Any:
    """The document as stored: decoded JSON, with its version."""
    if isinstance(document, str):
        document = filters._decode(document)
    document = dict(document or {})
    document.setdefault("v", filters.VERSION)
    return document


def create(owner: User, draft: Draft) -> SavedSearch:
    values = _checked(owner, draft, None)
    if SavedSearch.objects.filter(owner=owner).count() >= MAX_SAVED_PER_USER:
        raise SavedSearchError({"": f"You have {MAX_SAVED_PER_USER} saved searches already."})
    try:
        with transaction.atomic():
            saved = SavedSearch.objects.create(owner=owner, **values)
            refill_members(saved)
            mark_seen(saved, owner)
    except IntegrityError:
        raise SavedSearchError({"name": "You already have a saved search of that name."}) from None
    return saved


def update(saved: SavedSearch, user: User, draft: Draft) -> SavedSearch:
    """Rename, change, share or unshare: only its owner may."""
    if saved.owner_id != user.pk:
        raise PermissionError("Only the owner of a saved search may change it.")
    values = _checked(user, draft, saved)
    try:
        with transaction.atomic():
            for key, value in values.items():
                setattr(saved, key, value)
            saved.save()
            if draft.filter is not None or draft.shared is not None:
                refill_members(saved)
    except IntegrityError:
        raise SavedSearchError({"name": "You already have a saved search of that name."}) from None
    return saved


def delete(saved: SavedSearch, user: User) -> None:
    if saved.owner_id != user.pk:
        raise PermissionError("Only the owner of a saved search may delete it.")
    saved.delete()


def refill_members(saved: SavedSearch) -> None:
    """Every email the search matches now, as members since now (a new or changed filter:
    nothing of it is "new since you last looked")."""
    now = timezone.now()
    Member.objects.filter(search=saved).delete()
    ids = matching_emails(parsed(saved), scope_of(saved)).values_list("pk", flat=True)
    batch: list[Member] = []
    for email_id in ids.iterator(chunk_size=2000):
        batch.append(Member(search=saved, email_id=email_id, joined_at=now))
        if len(batch) >= 2000:
            Member.objects.bulk_create(batch)
            batch = []
    Member.objects.bulk_create(batch)


def current_count(saved: SavedSearch, reader: User) -> int:
    return count(parsed(saved), scope_of(saved, reader), saved.results)


def counts(searches: Sequence[SavedSearch], reader: User) -> dict[int, int]:
    """The sidebar: each search's count for this reader, computed now — the searches over the
    same emails together, in one pass (query.count_many)."""
    by_scope: dict[tuple[int, ...], list[SavedSearch]] = {}
    found_nothing: list[int] = []
    scopes: dict[tuple[int, ...], Scope] = {}
    for saved in searches:
        scope = scope_of(saved, reader)
        try:
            compile_filter(parsed(saved), scope.context())
        except FilterError:
            # e.g. it names a teammate who has left the team: it finds nothing now.
            found_nothing.append(saved.pk)
            continue
        key = (saved.owner_id, *scope.owner_ids)  # "me" is the search's owner
        by_scope.setdefault(key, []).append(saved)
        scopes[key] = scope
    found: dict[int, int] = dict.fromkeys(found_nothing, 0)
    for key, group in by_scope.items():
        numbers = count_many([(parsed(saved), saved.results) for saved in group], scopes[key])
        found.update({saved.pk: n for saved, n in zip(group, numbers, strict=True)})
    return found


def last_seen(saved: SavedSearch, user: User) -> dt.datetime | None:
    return Seen.objects.filter(search=saved, user=user).values_list("seen_at", flat=True).first()


def mark_seen(saved: SavedSearch, user: User) -> None:
    Seen.objects.update_or_create(search=saved, user=user, defaults={"seen_at": timezone.now()})


def results(
    saved: SavedSearch,
    reader: User,
    *,
    limit: int,
    cursor: str | None = None,
    sort: str | None = None,
    tz: dt.tzinfo = dt.UTC,
    look: bool = True,
) -> tuple[Page, set[int]]:
    """A page of the search's results for the reader, and the ids of the emails on it that
    joined since the reader last looked. `look`: this counts as looking (the first page)."""
    page = search(
        parsed(saved),
        scope_of(saved, reader, tz),
        results=saved.results,
        sort=sort or saved.sort or DEFAULT_SORT,
        limit=limit,
        cursor=cursor,
    )
    seen_at = last_seen(saved, reader)
    ids = [row.email.pk for row in page.rows]
    joined = dict(
        Member.objects.filter(search=saved, email_id__in=ids).values_list("email_id", "joined_at")
    )
    missing = [pk for pk in ids if pk not in joined]
    if missing:
        # Matching now, with no record of joining: it came in by something other than a
        # signal (sent, edited, time passing); it joined now, as far as anyone can tell.
        now = timezone.now()
        Member.objects.bulk_create(
            [Member(search=saved, email_id=pk, joined_at=now) for pk in missing],
            ignore_conflicts=True,
        )
        joined.update(dict.fromkeys(missing, now))
    new = {pk for pk, at in joined.items() if seen_at is not None and at > seen_at}
    if look and cursor is None:
        mark_seen(saved, reader)
    return page, new
