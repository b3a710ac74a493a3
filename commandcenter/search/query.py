"""Running a filter: compiled to one query over the reader's emails, sorted, keyset-paginated,
with the total. Results are emails, or people (one row per person with their latest email).

One home for the search the API, the web pages, saved searches, the CSV export and the
benchmarks run.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet, Sum, Window

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person
from commandcenter.search.fields import FIELDS, Context, Counter, Words
from commandcenter.search.filters import (
    EMPTY,
    Condition,
    FilterError,
    Group,
    Node,
    Not,
    fields_used,
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
RESULTS = ("emails", "people")
# Most Engaged: a reply says most, then a click, then a view.
SCORE = F("opens") + 3 * F("clicks") + 5 * F("replies")


class BadSearchCursor(ValueError):
    pass


@dataclass(frozen=True)
class Sort:
    """An order of results: (key, descending) pairs, the last one unique (the id)."""

    name: str
    keys: tuple[tuple[str, bool], ...]


EMAIL_SORTS: dict[str, Sort] = {
    sort.name: sort
    for sort in (
        Sort("newest", (("sort_at", True), ("id", True))),
        Sort("oldest", (("sort_at", False), ("id", False))),
        Sort("created", (("created_at", True), ("id", True))),
        Sort("most_engaged", (("score", True), ("id", True))),
        Sort("most_opens", (("opens", True), ("id", True))),
        Sort("most_clicks", (("clicks", True), ("id", True))),
        Sort("most_replies", (("replies", True), ("id", True))),
        Sort("recipient", (("to_address", False), ("id", False))),
    )
}
PEOPLE_SORTS: dict[str, Sort] = {
    sort.name: sort
    for sort in (
        Sort("newest", (("latest_id", True),)),
        Sort("most_engaged", (("score", True), ("latest_id", True))),
        Sort("recipient", (("person__email", False), ("latest_id", False))),
    )
}
DEFAULT_SORT = "newest"


@dataclass(frozen=True)
class Scope:
    """Whose emails a search runs over, and who "me" is in its filter."""

    owner_ids: tuple[int, ...]
    me_id: int
    owners: Mapping[str, int]  # usernames a filter may name, for the owner field
    tz: dt.tzinfo = dt.UTC

    def context(self) -> Context:
        return Context(me_id=self.me_id, owners=self.owners, owner_ids=self.owner_ids, tz=self.tz)


def scope_for(me: User, owner_ids: Sequence[int], tz: dt.tzinfo = dt.UTC) -> Scope:
    """The search scope of a reader who may see `owner_ids` (their own, or a team's)."""
    names = dict(User.objects.filter(pk__in=list(owner_ids)).values_list("username", "pk"))
    return Scope(tuple(owner_ids), me.pk, names, tz)


# -- compiling ---------------------------------------------------------------------------


def compile_filter(node: Node, ctx: Context) -> Q:
    """The filter as one Q; FilterError (with the condition's path) if a value does not fit
    the reader (an owner they may not see)."""
    if isinstance(node, Condition):
        kind = FIELDS[node.field]
        try:
            return kind.compile(node.op, node.value, node.options, ctx)
        except ValueError as error:
            raise FilterError(node.path, f"{node.field}: {error}") from None
    if isinstance(node, Not):
        return ~compile_filter(node.child, ctx)
    if node.kind == "all":
        ctx = _with_word_engagement(node, ctx)
    compiled = [compile_filter(child, ctx) for child in node.children]
    if not compiled:
        return Q()
    combined = compiled[0]
    for q in compiled[1:]:
        combined = combined & q if node.kind == "all" else combined | q
    return combined


def _with_word_engagement(group: Group, ctx: Context) -> Context:
    """The context for the children of an AND: its engagement conditions told to the word
    searches inside it. Narrowing a word search W by a condition C of the same AND changes
    nothing, wherever W sits under it (C and (W or V) is C and ((W and C) or V); the same
    under NOT): every email the AND keeps meets C."""
    terms: list[str] = []
    for child in group.children:
        kind = FIELDS[child.field] if isinstance(child, Condition) else None
        if isinstance(child, Condition) and isinstance(kind, Counter):
            terms.extend(kind.index_terms(child.op, child.value, child.options))
    if not terms:
        return ctx
    return dataclasses.replace(ctx, word_engagement=(*ctx.word_engagement, *terms))


def scope_emails(scope: Scope) -> QuerySet[Email]:
    """Every email of the scope (deleted ones never)."""
    return Email.objects.filter(owner_id__in=list(scope.owner_ids)).exclude(status=Status.DELETED)


def matching_emails(group: Group, scope: Scope) -> QuerySet[Email]:
    """Every email of the scope the filter matches."""
    return scope_emails(scope).filter(compile_filter(group, scope.context()))


def count_many(searches: Sequence[tuple[Group, str]], scope: Scope) -> list[int]:
    """The counts of many filters over one scope (the sidebar). Those an index counts by
    itself (_counted_alone) are counted so, each in its own query; the others together in
    one pass over the scope's emails, each a conditional COUNT of the same scan (a filter
    costs that scan a test per email: a few milliseconds at 100,000)."""
    found: dict[int, int] = {}
    shared: list[int] = []
    for index, (group, results) in enumerate(searches):
        if _counted_alone(group, results):
            found[index] = count(group, scope, results)
        else:
            shared.append(index)
    if shared:
        ctx = scope.context()
        aggregates = {}
        for index in shared:
            group, results = searches[index]
            condition = compile_filter(group, ctx)
            aggregates[f"c{index}"] = (
                Count("person_id", filter=condition, distinct=True)
                if results == "people"
                else Count("pk", filter=condition)
            )
        counted = scope_emails(scope).aggregate(**aggregates)
        found.update({index: int(counted[f"c{index}"]) for index in shared})
    return [found[index] for index in range(len(searches))]


def _counted_alone(group: Group, results: str) -> bool:
    """Whether a filter is cheaper counted by itself than as one more test in the shared
    scan: a status-only filter (the folder index counts it without reading a row) and, on
    SQLite, a word search (in the shared scan each email would be looked up in the list of
    the word's emails: 37 ms at 100,000 emails, against 8 ms counted alone; PostgreSQL
    tests them against a hash of the list, made once)."""
    if results == "emails" and fields_used(group) <= {"status"}:
        return group != EMPTY
    return connection.vendor == "sqlite" and _has_words(group)


def _has_words(group: Group) -> bool:
    """A word condition at the top level of an AND: the filter needs those words."""
    return group.kind == "all" and any(
        isinstance(child, Condition) and isinstance(FIELDS[child.field], Words)
        for child in group.children
    )


def count(group: Group, scope: Scope, results: str = "emails") -> int:
    emails = matching_emails(group, scope)
    if results == "people":
        # (person_id + 0: see _people_page)
        return emails.annotate(who=F("person_id") + 0).values("who").distinct().count()
    return emails.count()


# -- pages -------------------------------------------------------------------------------


@dataclass
class Result:
    """One row: an email, or a person with their latest matching email."""

    email: Email
    person: Person
    emails: int = 1  # how many of the person's emails match (people results)
    score: int = 0


@dataclass
class Page:
    total: int
    rows: list[Result]
    next_cursor: str | None
    sort: str = DEFAULT_SORT
    results: str = "emails"
    extra: dict[str, Any] = field(default_factory=dict)


def sorts_for(results: str) -> dict[str, Sort]:
    return PEOPLE_SORTS if results == "people" else EMAIL_SORTS


def search(
    group: Group,
    scope: Scope,
    *,
    results: str = "emails",
    sort: str = DEFAULT_SORT,
    limit: int = PAGE_SIZE,
    cursor: str | None = None,
    with_total: bool = True,
) -> Page:
    """One page of results and the total. `cursor` is the previous page's next_cursor."""
    if results not in RESULTS:
        raise FilterError("results", f"Expected one of {', '.join(RESULTS)}.")
    sorts = sorts_for(results)
    if sort not in sorts:
        raise FilterError("sort", f"Unknown sort {sort[:40]!r}; one of {', '.join(sorts)}.")
    order = sorts[sort]
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = decode_cursor(cursor, order) if cursor else None
    emails = matching_emails(group, scope)
    total = -1
    if results == "people":
        rows, more, total = _people_page(emails, order, after, limit, with_total)
    else:
        rows, more = _email_page(emails, order, after, limit)
    if with_total and total < 0:
        total = count(group, scope, results)
    next_cursor = encode_cursor(order, rows[-1], results) if more and rows else None
    return Page(total, rows, next_cursor, sort, results)


def _after(order: Sort, values: Sequence[Any]) -> Q:
    """Rows strictly after the cursor's row in this order (keyset pagination)."""
    condition = Q()
    equal = Q()
    for (key, descending), value in zip(order.keys, values, strict=True):
        beyond = Q(**{f"{key}__lt" if descending else f"{key}__gt": value})
        condition |= equal & beyond
        equal &= Q(**{key: value})
    return condition


def _ordering(order: Sort) -> list[str]:
    return [f"-{key}" if descending else key for key, descending in order.keys]


def _email_page(
    emails: QuerySet[Email], order: Sort, after: list[Any] | None, limit: int
) -> tuple[list[Result], bool]:
    if order.name == "most_engaged":
        emails = emails.annotate(score=SCORE)
    if after is not None:
        emails = emails.filter(_after(order, after))
    page = list(emails.select_related("person", "owner").order_by(*_ordering(order))[: limit + 1])
    rows = [Result(e, e.person, 1, e.opens + 3 * e.clicks + 5 * e.replies) for e in page[:limit]]
    return rows, len(page) > limit


def _people_page(
    emails: QuerySet[Email], order: Sort, after: list[Any] | None, limit: int, with_total: bool
) -> tuple[list[Result], bool, int]:
    """A page of people and, on the first page, their number from the same query (a window
    over the groups: one pass over the emails instead of two); -1 when not counted."""
    # Grouped by an expression of person_id, not the column: SQLite would otherwise walk the
    # whole table in person order (to skip a sort) instead of the rep's rows by the index.
    grouped = emails.order_by().annotate(who=F("person_id") + 0).values("who")
    if order.name == "recipient":
        grouped = grouped.values("who", "person__email")
    grouped = grouped.annotate(latest_id=Max("id"), score=Sum(SCORE), n=Count("id"))
    counted = after is None and with_total
    if after is not None:
        grouped = grouped.filter(_after(order, after))
    elif counted:
        grouped = grouped.annotate(groups=Window(Count("*")))
    page = list(grouped.order_by(*_ordering(order))[: limit + 1])
    total = (page[0]["groups"] if page else 0) if counted else -1
    latest = {
        e.pk: e
        for e in Email.objects.filter(
            pk__in=[row["latest_id"] for row in page[:limit]]
        ).select_related("person", "owner")
    }
    rows = []
    for row in page[:limit]:
        email = latest[row["latest_id"]]
        rows.append(Result(email, email.person, row["n"], int(row["score"] or 0)))
    return rows, len(page) > limit, total


def iterate(
    group: Group, scope: Scope, *, results: str = "emails", sort: str = DEFAULT_SORT
) -> Iterator[Result]:
    """Every result, page by page (the CSV export of "all N results")."""
    cursor = None
    while True:
        page = search(
            group,
            scope,
            results=results,
            sort=sort,
            limit=MAX_PAGE_SIZE,
            cursor=cursor,
            with_total=False,
        )
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# -- cursors -----------------------------------------------------------------------------


def _key_value(row: Result, key: str, results: str) -> Any:
    email = row.email
    if key == "latest_id":
        return email.pk
    if key == "score":
        return row.score
    if key == "person__email":
        return row.person.email
    value = getattr(email, key)
    return value.isoformat() if isinstance(value, dt.datetime) else value


def encode_cursor(order: Sort, row: Result, results: str) -> str:
    values = [_key_value(row, key, results) for key, _ in order.keys]
    raw = json.dumps({"s": order.name, "r": results, "k": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Sort) -> list[Any]:
    """The key values of the row a page ends on; BadSearchCursor if it is not ours or belongs
    to another sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        values = data["k"]
        if data["s"] != order.name or len(values) != len(order.keys):
            raise BadSearchCursor("The cursor belongs to another sort or search.")
        return [_typed(key, value) for (key, _), value in zip(order.keys, values, strict=True)]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError) as error:
        if isinstance(error, BadSearchCursor):
            raise
        raise BadSearchCursor("The cursor is not one this API gave out.") from None


def _typed(key: str, value: object) -> Any:
    if key.endswith("_at"):
        if not isinstance(value, str):
            raise ValueError(key)
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(key)
        return moment
    if key in {"to_address", "person__email"}:
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError(key)
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**62) < value < 2**63:
        raise ValueError(key)
    return value
