"""The sender's two mass moves (Scheduled -> In Progress on claim, In Progress -> Delivered on
acceptance) in two plain SQL statements each.

They write exactly what `transition_many` writes — the same columns through the state
machine's own `status_values`, one conditional UPDATE, one Event per email moved — without
the ORM, whose query compiling and model instances were the largest cost of claiming and
recording. Every other move of the sender goes through transition_many itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from commandcenter.outbox.models import Email, Event
from commandcenter.outbox.states import ALLOWED, status_values

# Rows per multi-row INSERT: well within SQLite's 32,766 and PostgreSQL's 65,535 parameters.
ROWS_PER_INSERT = 500
# {rows}: "(%s, …)" for each Event.
EVENT_INSERT_SQL = (
    'INSERT INTO "outbox_event" ("email_id", "kind", "from_status", "to_status", "detail", '
    '"payload", "data", "dedupe_key", "created_at") VALUES {rows}'
)
# {columns}: '"name" = %s' for each column written; {ids}: one %s per email; {claimed}: the
# condition on the claim, or nothing.
MOVE_SQL = (
    'UPDATE "outbox_email" SET {columns} WHERE "id" IN ({ids}) AND "status" = %s{claimed} '
    'RETURNING "id"'
)
CLAIMED_BY = ' AND "claimed_by" = %s'


def move_many(
    data_by_email: Mapping[int, Mapping[str, Any]],
    target: str,
    *,
    source: str,
    claimed_by: str | None,
    kind: str,
    data: Mapping[str, Any],
    updates: Mapping[str, Any] | None = None,
) -> list[int]:
    """transition_many() for the emails (with `where=Q(claimed_by=claimed_by)` unless that is
    None): those still in `source` (and claimed by `claimed_by`) move to `target`, each with
    a `kind` Event whose data is `data` plus its own from `data_by_email`. The ids moved, in
    id order."""
    if source not in ALLOWED[target]:
        raise ValueError(f"the state machine has no move from {source} to {target}")
    if not data_by_email:
        return []
    now = timezone.now()
    values = status_values(target, "", updates, now)
    names = list(values)
    # Only column names of the model and placeholders are put into the statement.
    statement = MOVE_SQL.format(
        columns=", ".join(f'"{_field(Email, name).column}" = %s' for name in names),
        ids=", ".join(["%s"] * len(data_by_email)),
        claimed="" if claimed_by is None else CLAIMED_BY,
    )
    params = [_field(Email, name).get_db_prep_save(values[name], connection) for name in names]
    params += [*data_by_email, source]
    if claimed_by is not None:
        params.append(claimed_by)
    created_at = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(statement, params)
        moved = sorted(row[0] for row in cursor.fetchall())
        rows = [
            (pk, kind, source, target, "", "", _event_data(data, data_by_email[pk]), "", created_at)
            for pk in moved
        ]
        # Few statements for all: on PostgreSQL, one parse and one round trip each.
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            cursor.execute(
                EVENT_INSERT_SQL.format(rows=value_rows(len(chunk), 9)),
                [value for row in chunk for value in row],
            )
    return moved


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _event_data(common: Mapping[str, Any], own: Mapping[str, Any]) -> Any:
    return _field(Event, "data").get_db_prep_save({**common, **own}, connection)


def value_rows(rows: int, columns: int) -> str:
    """Placeholders for a multi-row VALUES list: "(%s, %s), (%s, %s)"."""
    row = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([row] * rows)
