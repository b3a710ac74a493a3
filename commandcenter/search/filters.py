"""The filter document: parsed and validated into typed objects before anything is queried.

A filter is JSON, the same in the page URL, the API and storage:

    {"v": 1, "all": [
        {"field": "status", "op": "eq", "value": "delivered"},
        {"field": "opens", "op": "gte", "value": 1},
        {"any": [{"field": "clicks", "op": "gte", "value": 1}, {"field": "company", ...}]},
        {"not": {"field": "replies", "op": "gte", "value": 1}}
    ]}

A group is `{"all": [...]}` or `{"any": [...]}`, a negation `{"not": node}`, a condition
`{"field", "op", "value"}` (plus the options its field takes). `parse()` turns the document
into Group / Not / Condition objects, each value already of its field's type, or raises
FilterError naming the path of the first bad part and why. Fields and operators come from the
one table in fields.py; nothing of the document is ever spliced into SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

VERSION = 1
MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_DOCUMENT_CHARS = 20_000


class FilterError(ValueError):
    """A filter that cannot be run: `path` says where (e.g. "all[1].value"), `message` why."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path or "filter"
        self.message = message
        super().__init__(f"{self.path}: {message}")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any  # already of the field's type (see fields.py)
    options: Mapping[str, Any]
    path: str


@dataclass(frozen=True)
class Group:
    kind: Literal["all", "any"]
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Condition | Group | Not


def only_emails(group: Group, ids: tuple[int, ...]) -> Group:
    """The filter narrowed to these emails of its results: a selection (the web's ticked
    rows, the API's `ids`)."""
    return Group("all", (group, Condition("id", "in", ids, {}, "ids")))


EMPTY = Group("all", ())


def parse(document: object) -> Group:
    """The document as typed objects; FilterError when any part of it is not right.

    A document may come as JSON text (the page URL) or already decoded (API, storage).
    """
    if isinstance(document, str):
        document = _decode(document)
    if document is None or document == {}:
        return EMPTY
    if not isinstance(document, dict):
        raise FilterError("filter", 'Expected a JSON object such as {"all": [...]}.')
    version = document.get("v", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise FilterError("v", f"This server reads filter version {VERSION}, not {version!r}.")
    body = {key: value for key, value in document.items() if key != "v"}
    if not body:
        return EMPTY
    counter = [0]
    node = _node(body, "", 1, counter)
    return node if isinstance(node, Group) else Group("all", (node,))


def _decode(text: str) -> object:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise FilterError("filter", f"The filter is longer than {MAX_DOCUMENT_CHARS:,} characters.")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise FilterError("filter", "The filter is not valid JSON.") from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _node(data: object, path: str, depth: int, counter: list[int]) -> Node:
    if not isinstance(data, dict):
        raise FilterError(path, "Expected an object: a group, a 'not' or a condition.")
    if depth > MAX_DEPTH:
        raise FilterError(path, f"Groups may be nested at most {MAX_DEPTH} deep.")
    keys = set(data)
    for kind in ("all", "any"):
        if kind in keys:
            if keys != {kind}:
                raise FilterError(path, f"A group has only the key {kind!r}.")
            return _group(kind, data[kind], _join(path, kind), depth, counter)
    if "not" in keys:
        if keys != {"not"}:
            raise FilterError(path, "A negation has only the key 'not'.")
        return Not(_node(data["not"], _join(path, "not"), depth + 1, counter))
    if "field" in keys:
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise FilterError(path, f"A filter has at most {MAX_CONDITIONS} conditions.")
        return _condition(data, path)
    raise FilterError(path, "Expected 'all', 'any', 'not' or a condition with 'field'.")


def _group(kind: str, items: object, path: str, depth: int, counter: list[int]) -> Group:
    if not isinstance(items, list):
        raise FilterError(path, "Expected a list of conditions and groups.")
    children = tuple(
        _node(item, f"{path}[{index}]", depth + 1, counter) for index, item in enumerate(items)
    )
    return Group("all" if kind == "all" else "any", children)


def _condition(data: dict[str, Any], path: str) -> Condition:
    from commandcenter.search.fields import FIELDS

    name = data.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        shown = name if isinstance(name, str) else json.dumps(name)
        raise FilterError(
            _join(path, "field"),
            f"Unknown field {str(shown)[:60]!r}; fields are: {', '.join(FIELDS)}.",
        )
    field = FIELDS[name]
    op = data.get("op")
    if not isinstance(op, str) or op not in field.ops:
        raise FilterError(
            _join(path, "op"),
            f"{name}: unknown operator {str(op)[:30]!r}; {name} takes {', '.join(field.ops)}.",
        )
    extra = set(data) - {"field", "op", "value", *field.options}
    if extra:
        allowed = ", ".join(field.options) or "none"
        raise FilterError(
            _join(path, sorted(extra)[0]),
            f"{name}: unknown key {sorted(extra)[0][:30]!r} (options of {name}: {allowed}).",
        )
    if "value" not in data:
        raise FilterError(_join(path, "value"), f"{name}: a value is required.")
    value_path = _join(path, "value")
    try:
        value = field.parse_value(op, data["value"])
        options = field.parse_options({key: data[key] for key in field.options if key in data})
    except ValueError as error:
        raise FilterError(value_path, f"{name}: {error}") from None
    return Condition(name, op, value, options, value_path)


def fields_used(node: Node) -> set[str]:
    if isinstance(node, Condition):
        return {node.field}
    if isinstance(node, Not):
        return fields_used(node.child)
    return {name for child in node.children for name in fields_used(child)}
