"""The one table of what a filter can say: each field, its operators, its values, its SQL.

Every field is an entry of FIELDS built from a few kinds (text, choice, counter, date, words,
owner, reference, campaign part). A kind checks a condition's value into its Python type
and compiles it to a Django Q object: values always reach the database as parameters, never
as SQL. Adding a field is one entry here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import (
    Exact,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
)
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from commandcenter.outbox.states import FOLDERS

MAX_TEXT = 200
MAX_LIST = 1000
MAX_COUNT = 1_000_000
MAX_DAYS = 3650


@dataclass(frozen=True)
class Context:
    """What a condition needs beyond itself: who "me" is, whom the reader may see, and the
    time zone that "today" and a bare date mean."""

    me_id: int
    # username -> user id, for the users whose emails may be searched (owner field).
    owners: Mapping[str, int]
    # Whose emails the search runs over (engagement rows are looked up by owner).
    owner_ids: tuple[int, ...] = ()
    tz: dt.tzinfo = dt.UTC
    now: dt.datetime = field(default_factory=timezone.now)
    # Word-index terms that the engagement conditions around a word search imply
    # (fulltext.engagement_terms): the index narrows the words' emails by them.
    word_engagement: tuple[str, ...] = ()


class Kind:
    ops: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    value_type = "string"

    def __init__(self, column: str, label: Promise) -> None:
        self.column = column
        self.label = label

    def parse_value(self, op: str, value: object) -> Any:
        if op == "in":
            items = _list(value)
            return tuple(self.parse_one(item) for item in items)
        if op == "between":
            items = _list(value)
            if len(items) != 2:
                raise ValueError("between takes a list of two values, [from, to].")
            low, high = (self.parse_one(item) for item in items)
            return low, high
        return self.parse_one(value)

    def parse_one(self, value: object) -> Any:
        raise NotImplementedError

    def parse_options(self, options: Mapping[str, object]) -> dict[str, Any]:
        return dict(options)

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        return {"type": self.value_type}


def _list(value: object) -> list[object]:
    if not isinstance(value, list) or not value:
        raise ValueError("Expected a non-empty list.")
    if len(value) > MAX_LIST:
        raise ValueError(f"A list has at most {MAX_LIST} items.")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    if "\x00" in value:
        raise ValueError("The text must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("The text must be valid Unicode.") from None
    if len(value) > MAX_TEXT:
        raise ValueError(f"The text is longer than {MAX_TEXT} characters.")
    if not value.strip():
        raise ValueError("The text is empty.")
    return value.strip()


class Text(Kind):
    """Case-blind text: equal, different, containing (as literal text: % and _ are just
    characters), one of a list, starting with."""

    ops = ("eq", "ne", "contains", "in", "starts_with")

    def parse_one(self, value: object) -> str:
        return _text(value)

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        column = self.column
        if op == "in":
            return Q(In(Lower(column), [item.lower() for item in value]))
        if op in ("eq", "ne"):
            # lower() like "in" (not iexact's UPPER): the same text, and the same index.
            q = Q(Exact(Lower(column), value.lower()))
        else:
            lookup = "icontains" if op == "contains" else "istartswith"
            q = Q(**{f"{column}__{lookup}": value})
        return ~q if op == "ne" else q


class Domain(Text):
    """The domain of the recipient's address (after the @)."""

    def parse_one(self, value: object) -> str:
        return _text(value).lstrip("@").lower()

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        if op == "in":
            q = Q()
            for item in value:
                q |= Q(**{f"{self.column}__iendswith": "@" + item})
            return q
        if op == "contains":
            return Q(**{f"{self.column}__icontains": value})
        if op == "starts_with":
            return Q(**{f"{self.column}__icontains": "@" + value})
        q = Q(**{f"{self.column}__iendswith": "@" + value})
        return ~q if op == "ne" else q


class Equality(Kind):
    """A value compared as it is: equal, different, one of a list."""

    ops = ("eq", "ne", "in")

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        if op == "in":
            return Q(**{f"{self.column}__in": list(value)})
        q = Q(**{self.column: value})
        return ~q if op == "ne" else q


class Choice(Equality):
    def __init__(self, column: str, label: Promise, choices: Sequence[str]) -> None:
        super().__init__(column, label)
        self.choices = tuple(choices)

    def parse_one(self, value: object) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise ValueError(f"{str(value)[:40]!r} is not one of {', '.join(self.choices)}.")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{str(value)[:40]!r} is not a whole number.")
    if not 0 <= value <= MAX_COUNT:
        raise ValueError(f"Expected a number from 0 to {MAX_COUNT:,}.")
    return value


class Counter(Kind):
    """Human engagement (opens, clicks, replies) with "at least N" thresholds.

    Options: `include_machine` (opens and clicks only) counts machine events too;
    `within_days` counts only the events within N days of delivery.
    """

    ops = ("eq", "ne", "gte", "lte", "between")
    value_type = "integer"

    def __init__(
        self, column: str, label: Promise, event_kind: str, all_column: str | None, first: str
    ) -> None:
        super().__init__(column, label)
        self.event_kind = event_kind
        self.all_column = all_column
        self.first = first
        self.options = ("include_machine", "within_days") if all_column else ("within_days",)

    def parse_one(self, value: object) -> int:
        return _count(value)

    def parse_options(self, options: Mapping[str, object]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        machine = options.get("include_machine", False)
        if not isinstance(machine, bool):
            raise ValueError("include_machine is true or false.")
        parsed["include_machine"] = machine
        days = options.get("within_days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_DAYS:
                raise ValueError(f"within_days is a whole number of days from 1 to {MAX_DAYS}.")
            parsed["within_days"] = days
        return parsed

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        if options.get("within_days"):
            return self._within(op, value, options, ctx)
        if options.get("include_machine") and self.all_column:
            return _engaged(ctx, _compare(F(self.all_column), op, value), _zero_fits(op, value))
        return _compare(F(self.column), op, value)

    def index_terms(self, op: str, value: Any, options: Mapping[str, Any]) -> tuple[str, ...]:
        """What the word index knows of this condition: the human count on the email, with
        no options (machine events and "within N days" are not in its tokens)."""
        from commandcenter.search.fulltext import engagement_terms

        if options.get("within_days") or options.get("include_machine"):
            return ()
        return engagement_terms(self.column, op, value)

    def _within(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        """Only the events within N days of delivery."""
        days = dt.timedelta(days=options["within_days"])
        human = not options.get("include_machine")
        if human and (op, value) in {("gte", 1), ("eq", 0), ("lte", 0)}:
            # "At least one within N days" is "the first came within N days": a column.
            in_time = Q(**{f"{self.first}__lte": days.total_seconds()})
            return (
                _engaged(ctx, in_time, zero_fits=False)
                if op == "gte"
                else ~_engaged(ctx, in_time, zero_fits=False)
            )
        condition = _compare(self._counted_within(days, human), op, value)
        if op == "gte" or (op == "between" and min(value) > 0):
            # Cheap columns first: no email counts more within N days than it has at all.
            at_least = value if op == "gte" else min(value)
            total = "opens_all" if not human and self.all_column else self.column
            if total == self.column:
                return Q(**{f"{self.column}__gte": at_least}) & condition
            return _engaged(ctx, Q(**{f"{total}__gte": at_least}), False) & condition
        return condition

    def _counted_within(self, days: dt.timedelta, human: bool) -> Any:
        from commandcenter.outbox.models import Event

        events = Event.objects.filter(
            _not_true("excluded"),
            email_id=OuterRef("pk"),
            kind=self.event_kind,
            created_at__lte=ExpressionWrapper(OuterRef("sent_at") + Value(days), DateTimeField()),
        )
        if human:
            events = events.filter(_not_true("machine"))
        return Coalesce(
            Subquery(
                events.order_by().values("email_id").annotate(n=Count("*")).values("n")[:1],
                output_field=IntegerField(),
            ),
            0,
        )


def _zero_fits(op: str, value: Any) -> bool:
    """Whether an email with no engagement row (all zero) meets the condition."""
    if op == "between":
        return min(value) <= 0
    return {"eq": value == 0, "ne": value != 0, "gte": value <= 0, "lte": True}[op]


def _engaged(ctx: Context, condition: Q, zero_fits: bool) -> Q:
    """Emails whose engagement row meets `condition`, looked up in the owners' range of the
    engagement index; when an email without a row (no engagement) meets it too, as the
    complement: not among the rows that fail it."""
    from commandcenter.search.models import Engagement

    rows = Engagement.objects.filter(owner_id__in=list(ctx.owner_ids))
    if zero_fits:
        return ~Q(In(probed_id(), rows.exclude(condition).values("email_id")))
    return Q(In(probed_id(), rows.filter(condition).values("email_id")))


def probed_id() -> Any:
    """The email's id as the side of an IN (subquery) that is looked up in the subquery's
    rows. On SQLite the bare rowid would make the planner fetch every email the subquery
    names, one random read each, before any other condition or the order applies."""
    from django.db import connection

    return F("id") + 0 if connection.vendor == "sqlite" else F("id")


def _not_true(key: str) -> Q:
    """An event whose data does not say `key: true` (missing counts as false; a plain
    exclude() would drop the events without the key, NOT NULL being NULL)."""
    return Q(**{f"data__{key}": False}) | ~Q(data__has_key=key)


def _compare(expression: Any, op: str, value: Any) -> Q:
    if op == "between":
        low, high = sorted(value)
        return Q(GreaterThanOrEqual(expression, low)) & Q(LessThanOrEqual(expression, high))
    if op == "gte":
        return Q(GreaterThanOrEqual(expression, value))
    if op == "lte":
        return Q(LessThanOrEqual(expression, value))
    q = Q(Exact(expression, value))
    return ~q if op == "ne" else q


PRESETS: dict[str, Promise] = {
    "today": _("Today"),
    "yesterday": _("Yesterday"),
    "this_week": _("This week"),
    "last_7_days": _("Last 7 days"),
    "last_30_days": _("Last 30 days"),
    "this_month": _("This month"),
}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def preset_range(preset: str, ctx: Context) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a date preset in the reader's time zone."""
    local = ctx.now.astimezone(ctx.tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    day = dt.timedelta(days=1)
    ranges = {
        "today": (midnight, midnight + day),
        "yesterday": (midnight - day, midnight),
        "this_week": (midnight - day * midnight.weekday(), midnight + day),
        "last_7_days": (local - day * 7, local + dt.timedelta(seconds=1)),
        "last_30_days": (local - day * 30, local + dt.timedelta(seconds=1)),
        "this_month": (midnight.replace(day=1), midnight + day),
    }
    return ranges[preset]


class Moment:
    """A date ("2026-03-01": that whole day in the reader's time zone) or a time with an
    offset ("2026-03-01T09:00:00+08:00")."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.is_date = bool(DATE.fullmatch(text))
        try:
            if self.is_date:
                self.date = dt.date.fromisoformat(text)
            else:
                self.at = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{text[:40]!r} is not a date (2026-03-01) or a time with an offset."
            ) from None
        if not self.is_date and self.at.tzinfo is None:
            raise ValueError(f"{text[:40]!r} needs an offset, e.g. 2026-03-01T09:00:00+01:00.")

    def start(self, tz: dt.tzinfo) -> dt.datetime:
        if not self.is_date:
            return self.at
        return dt.datetime.combine(self.date, dt.time(), tzinfo=tz)

    def end(self, tz: dt.tzinfo) -> dt.datetime:
        """The first moment after it (the next day, for a date)."""
        if not self.is_date:
            return self.at + dt.timedelta(microseconds=1)
        return dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time(), tzinfo=tz)


class Date(Kind):
    """A timestamp of the email. `within` takes a preset (today, last_7_days, …)."""

    ops = ("eq", "gte", "lte", "between", "within", "is_set")
    value_type = "string"

    def parse_value(self, op: str, value: object) -> Any:
        if op == "within":
            if not isinstance(value, str) or value not in PRESETS:
                raise ValueError(f"{str(value)[:40]!r} is not one of {', '.join(PRESETS)}.")
            return value
        if op == "is_set":
            if not isinstance(value, bool):
                raise ValueError("is_set takes true or false.")
            return value
        return super().parse_value(op, value)

    def parse_one(self, value: object) -> Moment:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError("Expected a date such as 2026-03-01 or an ISO 8601 time.")
        moment = Moment(value)
        try:
            moment.start(dt.UTC).astimezone(dt.UTC)
            moment.end(dt.UTC).astimezone(dt.UTC)
        except OverflowError:
            raise ValueError(f"{value[:40]!r} is out of range.") from None
        return moment

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        column, tz = self.column, ctx.tz
        if op == "is_set":
            return Q(**{f"{column}__isnull": not value})
        if op == "within":
            start, end = preset_range(value, ctx)
            return Q(**{f"{column}__gte": start, f"{column}__lt": end})
        if op == "between":
            low, high = value
            return Q(**{f"{column}__gte": low.start(tz), f"{column}__lt": high.end(tz)})
        if op == "gte":
            return Q(**{f"{column}__gte": value.start(tz)})
        if op == "lte":
            return Q(**{f"{column}__lt": value.end(tz)})
        return Q(**{f"{column}__gte": value.start(tz), f"{column}__lt": value.end(tz)})

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date or date-time", "presets": list(PRESETS)}


class Words(Kind):
    """Word search of the subject and the body (full-text index: fulltext.py). Every word
    must be there; words are matched whole, case-blind."""

    ops = ("contains",)

    def parse_one(self, value: object) -> tuple[str, ...]:
        from commandcenter.search.fulltext import words_of

        words = words_of(_text(value))
        if not words:
            raise ValueError("Give at least one word to look for.")
        return words

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        from commandcenter.search.fulltext import matching

        return matching(value, ctx.owner_ids, ctx.word_engagement)


class Owner(Kind):
    """Whose email: "me" or a username of someone the reader may see (admins: teammates)."""

    ops = ("eq", "ne", "in")

    def parse_one(self, value: object) -> str:
        return _text(value)

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        names = value if op == "in" else (value,)
        ids = []
        for name in names:
            if name == "me":
                ids.append(ctx.me_id)
            elif name in ctx.owners:
                ids.append(ctx.owners[name])
            else:
                raise ValueError(f"{name[:60]!r} is not you or a teammate whose emails you see.")
        q = Q(owner_id__in=ids)
        return ~q if op == "ne" else q


class Reference(Equality):
    """A row the email points to, by id (its person, its batch)."""

    value_type = "integer"

    def parse_one(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            raise ValueError(f"{str(value)[:40]!r} is not an id.")
        return value


class CampaignPart(Reference):
    """A campaign, one of its steps or one of their A/B variants, by id: only one the reader
    may see (campaigns.builder.visible_campaigns: their own, or shared with their team). Any
    other id is refused by name, so that a filter cannot probe another rep's campaigns."""

    def __init__(self, column: str, label: Promise, model: str, campaign_path: str) -> None:
        super().__init__(column, label)
        self.model = model  # "campaign", "step" or "variant"
        self.campaign_path = campaign_path  # from the model to its campaign's id

    def compile(self, op: str, value: Any, options: Mapping[str, Any], ctx: Context) -> Q:
        ids = value if op == "in" else (value,)
        unseen = sorted(set(ids) - visible_parts(self.model, self.campaign_path, ids, ctx))
        if unseen:
            raise ValueError(f"no {self.model} with id {unseen[0]} that you can see.")
        return super().compile(op, value, options, ctx)


def visible_parts(model: str, campaign_path: str, ids: Sequence[int], ctx: Context) -> set[int]:
    """Which of these campaign (step, variant) ids the reader of `ctx` may see."""
    from commandcenter.accounts.models import User
    from commandcenter.campaigns.builder import visible_campaigns
    from commandcenter.campaigns.models import Campaign, Step, Variant

    reader = User.objects.filter(pk=ctx.me_id).first()
    if reader is None:
        return set()
    campaigns = Campaign.objects.filter(visible_campaigns(reader, ctx.owner_ids))
    models: dict[str, Any] = {"campaign": Campaign, "step": Step, "variant": Variant}
    seen = Q(**{f"{campaign_path}__in": campaigns.values("pk")})
    found = models[model].objects.filter(Q(pk__in=list(ids)) & seen)
    return set(found.values_list("pk", flat=True))


FIELDS: dict[str, Kind] = {
    "status": Choice("status", _("Status"), FOLDERS),
    "reason": Text("reason", _("Reason")),
    "opens": Counter("opens", _("Views"), "opened", "opens_all", "first_open_after"),
    "clicks": Counter("clicks", _("Clicks"), "clicked", "clicks_all", "first_click_after"),
    "replies": Counter("replies", _("Replies"), "replied", None, "first_reply_after"),
    "created_at": Date("created_at", _("Created")),
    "delivered_at": Date("sent_at", _("Delivered")),
    "failed_at": Date("failed_at", _("Failed")),
    "send_at": Date("send_at", _("Scheduled for")),
    "to": Text("to_address", _("Recipient")),
    "first_name": Text("person__first_name", _("First name")),
    "last_name": Text("person__last_name", _("Last name")),
    "company": Text("person__company", _("Company")),
    "title": Text("person__title", _("Title")),
    "domain": Domain("to_address", _("Domain")),
    "subject": Text("subject", _("Subject")),
    "text": Words("id", _("Subject or body words")),
    "owner": Owner("owner_id", _("Owner")),
    "campaign": CampaignPart("campaign_id", _("Campaign"), "campaign", "pk"),
    "step": CampaignPart("step_id", _("Campaign step"), "step", "campaign_id"),
    "variant": CampaignPart("variant_id", _("A/B variant"), "variant", "step__campaign_id"),
    "person": Reference("person_id", _("Person")),
    "batch": Reference("batch_id", _("Batch")),
    "id": Reference("id", _("Email")),
}

OP_LABELS: dict[str, Promise] = {
    "eq": _("is"),
    "ne": _("is not"),
    "contains": _("contains"),
    "in": _("is one of"),
    "starts_with": _("starts with"),
    "gte": _("at least"),
    "lte": _("at most"),
    "between": _("between"),
    "within": _("within"),
    "is_set": _("is set"),
}

Compiler = Callable[[str, Any, Mapping[str, Any], Context], Q]
