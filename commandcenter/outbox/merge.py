"""Merge fields: {{first_name}}, {{company}}, {{my_signature}}, custom fields…

One rule for every path: first/last name and title render blank when missing, company
becomes "your company", and any other field that cannot be filled is an error that names it
(the email then goes to Failed instead of out).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commandcenter.accounts.models import User
    from commandcenter.people.models import Person

MERGE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BLANK_WHEN_MISSING = ("first_name", "last_name", "title")
COMPANY_FALLBACK = "your company"


class MissingMergeField(Exception):
    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        names = ", ".join(f"{{{{{name}}}}}" for name in fields)
        super().__init__(f"merge field {names} cannot be filled for this recipient")


def field_value(name: str, person: Person, user: User) -> str | None:
    """The value of one merge field, or None when it cannot be filled."""
    if name in BLANK_WHEN_MISSING:
        return getattr(person, name) or ""
    if name == "company":
        return person.company or COMPANY_FALLBACK
    if name == "email":
        return person.email
    if name == "my_name":
        return user.display_name
    if name == "my_signature":
        return user.signature
    if name == "my_email":
        return user.email or None
    value = (person.custom_fields or {}).get(name)
    if value is None or str(value).strip() == "":
        return None
    return str(value)


def fields_in(*templates: str) -> list[str]:
    seen: dict[str, None] = {}
    for template in templates:
        for match in MERGE_FIELD.finditer(template or ""):
            seen.setdefault(match.group(1), None)
    return list(seen)


def missing_fields(person: Person, user: User, *templates: str) -> list[str]:
    return [name for name in fields_in(*templates) if field_value(name, person, user) is None]


def render(template: str, person: Person, user: User, *, html_escape: bool = False) -> str:
    """Fill every merge field; raises MissingMergeField naming those that cannot be filled."""
    missing = missing_fields(person, user, template)
    if missing:
        raise MissingMergeField(missing)

    def fill(match: re.Match[str]) -> str:
        value = field_value(match.group(1), person, user) or ""
        return html.escape(value) if html_escape else value

    return MERGE_FIELD.sub(fill, template or "")
