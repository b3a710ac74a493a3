"""The part every state table shares (outbox, tasks, campaigns): a conditional move of many
rows, grouped by the state each was in, so that each gets an event saying from where."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import models, transaction


def move_rows(
    model: type[models.Model],
    ids: Iterable[int],
    *,
    field: str,
    allowed: Iterable[str],
    values: Mapping[str, Any],
) -> dict[str, list[int]]:
    """Move the rows among `ids` whose `field` is one of `allowed`: source -> ids moved.

    Run inside a transaction: the rows are locked first, and each UPDATE is conditional on
    the source read under the lock, so a concurrent move makes it a no-op, never a double.
    """
    rows = list(
        model._default_manager.select_for_update()
        .filter(pk__in=sorted(set(ids)), **{f"{field}__in": sorted(allowed)})
        .values_list("pk", field)
    )
    moved: dict[str, list[int]] = {}
    for source in sorted({state for _pk, state in rows}):
        pks = [pk for pk, state in rows if state == source]
        changed = model._default_manager.filter(pk__in=pks, **{field: source}).update(**values)
        if changed:
            moved[source] = pks
    return moved


def move_with_events(
    model: type[models.Model],
    ids: Iterable[int],
    *,
    field: str,
    allowed: Iterable[str],
    values: Mapping[str, Any],
    event: Callable[[int, str], models.Model],
) -> list[int]:
    """move_rows() and one event per row moved (`event(pk, source)` makes it), in one
    transaction; the ids moved, in order."""
    with transaction.atomic():
        by_source = move_rows(model, ids, field=field, allowed=allowed, values=values)
        events = [event(pk, source) for source, pks in by_source.items() for pk in pks]
        if events:
            type(events[0])._default_manager.bulk_create(events, batch_size=500)
    return sorted(pk for pks in by_source.values() for pk in pks)
