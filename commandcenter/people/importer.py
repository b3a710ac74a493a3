"""Importing people from a CSV file: one domain function for the CLI, the API and the web.

The import is all-or-nothing: the whole file is read and checked first, and a single bad row
means nothing is written. A person that already exists for the owner (same address, any case)
is updated with the file's non-empty cells; the others are created. Writes are bulk writes,
so 50,000 rows take seconds.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from commandcenter.accounts.models import User
from commandcenter.people.models import Person
from commandcenter.people.services import normalise_address

MAX_ROWS = 50_000
PROGRESS_EVERY = 1_000
LOOKUP_CHUNK = 2_000
SNIFF_BYTES = 64 * 1024

# Canonical column: the header spellings that mean it (compared after _header_key()).
COLUMN_ALIASES: dict[str, frozenset[str]] = {
    "email": frozenset({"email", "e_mail", "email_address", "e_mail_address", "mail"}),
    "first_name": frozenset({"first_name", "firstname", "first", "given_name"}),
    "last_name": frozenset({"last_name", "lastname", "last", "surname", "family_name"}),
    "company": frozenset({"company", "company_name", "organization", "organisation"}),
    "title": frozenset({"title", "job_title"}),
    "time_zone": frozenset({"time_zone", "timezone", "tz"}),
    "do_not_contact": frozenset({"do_not_contact", "dnc"}),
}
TEXT_LIMITS = {"first_name": 100, "last_name": 100, "company": 200, "title": 200, "time_zone": 64}
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x"})
FALSE_WORDS = frozenset({"0", "false", "no", "n"})
UPDATABLE = ("first_name", "last_name", "company", "title", "time_zone", "do_not_contact")

Progress = Callable[[int, int], None]


@dataclass
class RowError:
    line: int  # 1 is the header row; 0 means the file as a whole
    message: str


@dataclass
class ImportReport:
    created: int
    updated: int
    errors: list[RowError]
    # The checked rows by canonical column name (custom columns under their own names).
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _FileRefused(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.error = RowError(line, message)
        super().__init__(message)


@dataclass
class _Row:
    line: int
    address: str
    cells: dict[str, str]
    custom: dict[str, str]


def import_people_csv(
    owner: User, data: str | bytes, *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Create or update the owner's people from CSV text; nothing is written on any error."""
    try:
        text = _decode(data)
        records = _records(text)
        columns = _columns(next(records)[1])
        raw_rows = _limited(records)
    except _FileRefused as refused:
        return ImportReport(0, 0, [refused.error])
    rows, errors = _check_rows(raw_rows, columns, progress)
    existing = _existing_people(owner, [row.address for row in rows])
    report = ImportReport(
        created=sum(1 for row in rows if row.address not in existing),
        updated=sum(1 for row in rows if row.address in existing),
        errors=errors,
        rows=[{"email": row.address, **row.cells, **row.custom} for row in rows],
    )
    if errors or dry_run:
        if errors:
            report.created = report.updated = 0
        return report
    try:
        _write(owner, rows, existing)
    except IntegrityError:
        # Another import or compose created one of these people between our read and write.
        return ImportReport(
            0, 0, [RowError(0, "Some of these people were added meanwhile; run the import again.")]
        )
    return report


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        text = data
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _FileRefused(
                0, "The file says it is UTF-16 but is not; save it as UTF-8."
            ) from None
    else:
        if b"\x00" in data[:SNIFF_BYTES]:
            raise _FileRefused(0, "This is not a CSV file: it contains binary data.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                # Spreadsheets on Windows save "CSV" in the ANSI code page.
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise _FileRefused(
                    0, "The file's encoding is neither UTF-8 nor Windows-1252; save it as UTF-8."
                ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise _FileRefused(0, "The file is empty.")
    if "\x00" in text[:SNIFF_BYTES]:
        raise _FileRefused(0, "This is not a CSV file: it contains binary data.")
    return text


def _delimiter(text: str) -> str:
    sample = text[:SNIFF_BYTES]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;").delimiter
    except csv.Error:
        # One column, or too few rows to sniff: the header line decides.
        header = sample.splitlines()[0] if sample else ""
        return ";" if header.count(";") > header.count(",") else ","


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank record; the line is where the record starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield line, cells
            line = reader.line_num + 1
    except csv.Error as error:
        raise _FileRefused(line, f"This is not valid CSV: {error}.") from None


def _header_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def _columns(header: list[str]) -> list[tuple[str, bool]]:
    """(name, is_custom) per header cell: canonical names, custom fields under their key."""
    columns: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for raw in header:
        key = _header_key(raw)
        canonical = next((name for name, aka in COLUMN_ALIASES.items() if key in aka), None)
        name = canonical or key
        if name and name in seen:
            raise _FileRefused(1, f"The header names the column {raw.strip()!r} twice.")
        seen.add(name)
        columns.append((name, canonical is None))
    if "email" not in seen:
        found = ", ".join(repr(cell.strip()) for cell in header[:10])
        raise _FileRefused(
            1, f"The header row has no email column (found {found}); name one 'email'."
        )
    return columns


def _limited(records: Iterator[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    rows: list[tuple[int, list[str]]] = []
    for line, cells in records:
        if len(rows) == MAX_ROWS:
            raise _FileRefused(
                line, f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
            )
        rows.append((line, cells))
    if not rows:
        raise _FileRefused(0, "The file has a header row but no people.")
    return rows


def _check_rows(
    raw_rows: list[tuple[int, list[str]]],
    columns: list[tuple[str, bool]],
    progress: Progress | None,
) -> tuple[list[_Row], list[RowError]]:
    rows: list[_Row] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    total = len(raw_rows)
    for done, (line, cells) in enumerate(raw_rows, start=1):
        try:
            row = _check_row(line, cells, columns)
            if row.address in first_line:
                raise ValidationError(
                    f"{row.address} is already on line {first_line[row.address]}."
                )
            first_line[row.address] = line
            rows.append(row)
        except ValidationError as error:
            errors.append(RowError(line, error.messages[0]))
        if progress and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total)
    return rows, errors


def _check_row(line: int, cells: list[str], columns: list[tuple[str, bool]]) -> _Row:
    if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
        raise ValidationError(
            f"The row has {len(cells)} cells but the header names {len(columns)} columns."
        )
    known: dict[str, str] = {}
    custom: dict[str, str] = {}
    for (name, is_custom), cell in zip(columns, cells, strict=False):
        value = cell.strip()
        if is_custom:
            if name and value:
                custom[name] = value
        else:
            known[name] = value
    if not known.get("email"):
        raise ValidationError("The email cell is empty.")
    address = normalise_address(known.pop("email"))
    for name, limit in TEXT_LIMITS.items():
        if len(known.get(name, "")) > limit:
            raise ValidationError(f"{name} is longer than {limit} characters.")
    if known.get("time_zone") and not _is_time_zone(known["time_zone"]):
        raise ValidationError(f"{known['time_zone']!r} is not a time zone (e.g. Europe/Paris).")
    if known.get("do_not_contact"):
        known["do_not_contact"] = str(_yes_no(known["do_not_contact"])).lower()
    return _Row(line, address, {k: v for k, v in known.items() if v}, custom)


@functools.cache
def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _yes_no(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValidationError(f"do_not_contact must be yes or no, got {raw!r}.")


def _existing_people(owner: User, addresses: list[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    for start in range(0, len(addresses), LOOKUP_CHUNK):
        chunk = addresses[start : start + LOOKUP_CHUNK]
        people = Person.objects.annotate(address=Lower("email")).filter(
            owner=owner, address__in=chunk
        )
        found.update({person.email.lower(): person for person in people})
    return found


def _write(owner: User, rows: list[_Row], existing: dict[str, Person]) -> None:
    now = timezone.now()
    new_people: list[Person] = []
    changed: list[Person] = []
    for row in rows:
        person = existing.get(row.address) or Person(owner=owner, email=row.address)
        _apply(person, row)
        if person.pk is None:
            new_people.append(person)
        else:
            person.updated_at = now  # bulk_update does not touch auto_now fields
            changed.append(person)
    with transaction.atomic():
        Person.objects.bulk_create(new_people, batch_size=1000)
        Person.objects.bulk_update(
            changed, [*UPDATABLE, "custom_fields", "updated_at"], batch_size=1000
        )


def _apply(person: Person, row: _Row) -> None:
    """Copy the row's non-empty cells onto the person; empty cells keep what is there."""
    for name, value in row.cells.items():
        if name == "do_not_contact":
            person.do_not_contact = value == "true"
        else:
            setattr(person, name, value)
    if row.custom:
        person.custom_fields = {**(person.custom_fields or {}), **row.custom}
