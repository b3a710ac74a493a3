"""Merge fields: {{first_name}}, {{company | your team}}, {{my_signature}}, custom fields…

The one rule, the same on every path (single, Select and Send, Group, drafts, scheduled edits,
the API, the sender, campaign steps): a merge field whose value would come out empty is an
error that names the field and the person — unless the template gives a fallback,
`{{first_name | there}}` (an empty one, `{{title|}}`, says "blank is fine here"), or the rep
has a default for that field in Settings (MergeDefault). The template's fallback wins over
the rep's default: it was written for this very sentence.

Anything that sends content to one person (a campaign engine's step, for example) calls

    render_for(user, person, subject, body_text="", body_html="") -> Rendered

which fills all three parts for `person` as `user` (the rep who sends) or raises
MissingMergeField naming every field that cannot be filled. `defaults=` takes the rep's
defaults when the caller already has them (defaults_for(user)); otherwise they are read only
when a field is empty. The check alone is `missing_fields(person, user, *templates)`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from commandcenter.accounts.models import User
    from commandcenter.people.models import Person

# {{ name }} or {{ name | fallback }}; the fallback is any text without braces.
MERGE_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}]*))?\}\}")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# The fields every person and every rep has, in the order the compose menu offers them.
PERSON_FIELDS = ("first_name", "last_name", "full_name", "company", "title", "email")
REP_FIELDS = ("my_name", "my_first_name", "my_email", "my_signature")
STANDARD_FIELDS = frozenset(PERSON_FIELDS + REP_FIELDS)
# The person fields a rep can fill from the compose preview (the others are derived).
FILLABLE_PERSON_FIELDS = frozenset({"first_name", "last_name", "company", "title"})


def is_field_name(name: str) -> bool:
    """True for a name {{name}} can use: letters, digits and _, not starting with a digit."""
    return bool(FIELD_NAME.fullmatch(name))


def placeholder(name: str) -> str:
    return "{{" + name + "}}"


class MissingMergeField(Exception):
    """Merge fields that would come out empty: `fields` (names) for `people` (addresses)."""

    def __init__(self, fields: Iterable[str], people: Iterable[str] = ()) -> None:
        self.fields = list(dict.fromkeys(fields))
        self.people = list(dict.fromkeys(people))
        # As the sender words a failure: it capitalises this and adds the full stop.
        reason = missing_reason(self.fields, self.people).removesuffix(".")
        super().__init__(reason[:1].lower() + reason[1:])


def missing_reason(fields: Iterable[str], people: Iterable[str] = ()) -> str:
    """The stored, English reason (the web UI translates it when it shows it)."""
    names = ", ".join(placeholder(name) for name in fields)
    who = ", ".join(people) or "this recipient"
    return f"Merge field {names} is empty for {who}."


@dataclass(frozen=True)
class Rendered:
    """Subject and bodies as the recipient gets them: every merge field filled."""

    subject: str
    body_text: str
    body_html: str


def one_line(text: str) -> str:
    """A subject on one line: a merge field's value may hold line breaks."""
    return " ".join(text.splitlines())


def field_value(name: str, person: Person, user: User) -> str:
    """The value of one merge field for this person and rep; "" when it has none."""
    value: Any
    if name in PERSON_FIELDS:
        value = person.full_name if name == "full_name" else getattr(person, name)
    elif name == "my_name":
        value = user.display_name
    elif name == "my_first_name":
        value = user.first_name
    elif name == "my_email":
        value = user.email
    elif name == "my_signature":
        value = user.signature
    else:
        value = (person.custom_fields or {}).get(name)
    if value is None or isinstance(value, bool | dict | list):
        # JSON null, true/false and nested values are no text to put in an email.
        return ""
    return str(value).strip()


def fill(
    template: str,
    person: Person,
    user: User,
    defaults: Mapping[str, str],
    *,
    html_part: bool = False,
    missing: list[str] | None = None,
) -> str:
    """`template` with its fields filled. A field with no value, fallback or default is
    appended to `missing` and left as it was written (so a draft's preview shows it)."""

    def replace(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        own = field_value(name, person, user)
        if not own and fallback is not None:
            # The template's own text, already written in its part's form (HTML or text).
            return fallback.strip()
        value = own or defaults.get(name, "").strip()
        if not value:
            if missing is not None:
                missing.append(name)
            return match.group(0)
        if html_part:
            return html.escape(value).replace("\n", "<br>\n")
        return value

    return MERGE_FIELD.sub(replace, template or "")


def fields_in(*templates: str) -> list[str]:
    """The merge fields the templates use, each once, in order."""
    seen: dict[str, None] = {}
    for template in templates:
        for match in MERGE_FIELD.finditer(template or ""):
            seen.setdefault(match.group(1), None)
    return list(seen)


def defaults_for(user: User) -> dict[str, str]:
    """The rep's default value per field (Settings), for fields a person leaves empty."""
    from commandcenter.outbox.models import MergeDefault

    return dict(MergeDefault.objects.filter(owner=user).values_list("field", "value"))


def render_parts(
    person: Person,
    user: User,
    subject: str,
    body_text: str,
    body_html: str = "",
    *,
    defaults: Mapping[str, str] | None = None,
) -> tuple[Rendered, list[str]]:
    """The three parts filled as far as they can be, and the fields that could not be.

    The rep's defaults are read (one query) only when a field is empty and `defaults` is None.
    """

    def attempt(known: Mapping[str, str]) -> tuple[Rendered, list[str]]:
        missing: list[str] = []
        rendered = Rendered(
            subject=one_line(fill(subject, person, user, known, missing=missing)),
            body_text=fill(body_text, person, user, known, missing=missing),
            body_html=fill(body_html, person, user, known, html_part=True, missing=missing),
        )
        return rendered, list(dict.fromkeys(missing))

    rendered, missing = attempt(defaults or {})
    if missing and defaults is None:
        rendered, missing = attempt(defaults_for(user))
    return rendered, missing


def render_for(
    user: User,
    person: Person,
    subject: str,
    body_text: str = "",
    body_html: str = "",
    *,
    defaults: Mapping[str, str] | None = None,
) -> Rendered:
    """Subject and bodies for `person`, sent by `user`; MissingMergeField naming every field
    that would come out empty (and the person) when one cannot be filled."""
    rendered, missing = render_parts(person, user, subject, body_text, body_html, defaults=defaults)
    if missing:
        raise MissingMergeField(missing, [person.email])
    return rendered


def missing_fields(
    person: Person, user: User, *templates: str, defaults: Mapping[str, str] | None = None
) -> list[str]:
    """The fields of `templates` that would come out empty for this person; [] when none."""
    missing: list[str] = []
    for template in templates:
        fill(template, person, user, defaults or {}, missing=missing)
    if missing and defaults is None:
        return missing_fields(person, user, *templates, defaults=defaults_for(user))
    return list(dict.fromkeys(missing))


def render(template: str, person: Person, user: User, *, html_escape: bool = False) -> str:
    """One template filled; MissingMergeField naming the fields that cannot be filled."""
    if html_escape:
        return render_for(user, person, "", "", template).body_html
    return render_for(user, person, "", template).body_text
