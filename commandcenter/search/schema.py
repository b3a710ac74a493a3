"""The published JSON Schema of the filter document, made from the one field table."""

from __future__ import annotations

from typing import Any

from commandcenter.search.fields import FIELDS, MAX_LIST, OP_LABELS, PRESETS, Counter
from commandcenter.search.filters import MAX_CONDITIONS, MAX_DEPTH, VERSION
from commandcenter.search.query import EMAIL_SORTS, PEOPLE_SORTS, RESULTS


def _value_schema(kind: Any, op: str) -> dict[str, Any]:
    one = kind.schema()
    if op == "in":
        return {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_LIST}
    if op == "between":
        return {"type": "array", "items": one, "minItems": 2, "maxItems": 2}
    if op == "within":
        return {"type": "string", "enum": list(PRESETS)}
    if op == "is_set":
        return {"type": "boolean"}
    return one


def _condition(name: str) -> dict[str, Any]:
    kind = FIELDS[name]
    properties: dict[str, Any] = {
        "field": {"const": name, "title": str(kind.label)},
        "op": {"enum": list(kind.ops)},
        "value": {"oneOf": [_value_schema(kind, op) for op in kind.ops]},
    }
    if isinstance(kind, Counter):
        properties["within_days"] = {"type": "integer", "minimum": 1}
        if "include_machine" in kind.options:
            properties["include_machine"] = {"type": "boolean", "default": False}
    return {
        "type": "object",
        "required": ["field", "op", "value"],
        "additionalProperties": False,
        "properties": properties,
    }


def filter_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/api/v1/search/schema",
        "title": "Command Center search filter",
        "description": (
            f"Version {VERSION}. Groups nest at most {MAX_DEPTH} deep, with at most "
            f"{MAX_CONDITIONS} conditions. Engagement counts human events unless "
            "include_machine is true."
        ),
        "type": "object",
        "properties": {
            "v": {"const": VERSION},
            "all": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "any": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "not": {"$ref": "#/$defs/node"},
        },
        "$defs": {
            "node": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["all"],
                        "properties": {"all": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["any"],
                        "properties": {"any": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "required": ["not"],
                        "properties": {"not": {"$ref": "#/$defs/node"}},
                        "additionalProperties": False,
                    },
                    *(_condition(name) for name in FIELDS),
                ]
            }
        },
        "x-operators": {op: str(label) for op, label in OP_LABELS.items()},
        "x-results": list(RESULTS),
        "x-sorts": {"emails": list(EMAIL_SORTS), "people": list(PEOPLE_SORTS)},
    }
