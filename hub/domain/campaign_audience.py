"""A campaign's audience from an uploaded CSV file: numbers normalised, bad rows reported.

Polish Excel writes CSV with ';' (the comma is the decimal separator) and often a BOM; other tools
write ','. A header row is recognised when its phone column's cell is not a number; the column
named phone/telefon/numer/number (any case) holds the numbers, else the first one. Every other
column, by its header, becomes a variable for that row's text.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Final

from hub.domain.phones import InvalidPhoneNumber, to_e164

PHONE_HEADERS: Final = frozenset({"phone", "telefon", "numer", "number", "tel", "nr", "msisdn"})
MAX_LISTED: Final = 100
"""Invalid rows listed with their reason; all are counted."""


@dataclass(frozen=True)
class InvalidRow:
    line: int
    value: str
    reason: str


@dataclass(frozen=True)
class CsvRecipient:
    line: int
    phone: str
    """E.164."""
    fields: dict[str, str]


@dataclass
class CsvAudience:
    recipients: list[CsvRecipient] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    """The first `MAX_LISTED` invalid rows."""
    invalid_count: int = 0
    duplicates: int = 0
    columns: list[str] = field(default_factory=list)
    """The variable columns (header names), phone column excluded."""

    def reject(self, line: int, value: str, reason: str) -> None:
        self.invalid_count += 1
        if len(self.invalid) < MAX_LISTED:
            self.invalid.append(InvalidRow(line, value, reason))


def normalise_recipient(raw: str) -> str:
    """A recipient's number in E.164; short codes and non-numbers refused.

    Raises:
        InvalidPhoneNumber: with the reason.
    """
    value = raw.strip()
    if not value:
        raise InvalidPhoneNumber("empty")
    phone = to_e164(value)
    if not phone.startswith("+"):
        raise InvalidPhoneNumber(f"{value!r} is a short code, not a phone number")
    return phone


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_phone(cell: str) -> bool:
    try:
        normalise_recipient(cell)
    except InvalidPhoneNumber:
        return False
    return True


def parse_csv(text: str) -> CsvAudience:
    """Read a CSV file's text into recipients (first occurrence of each number kept, later ones
    counted as duplicates) and invalid rows (line numbers as a spreadsheet shows them).

    A file that is only numbers, one per line, is read too (one column, no header).
    """
    text = text.lstrip("\ufeff")
    result = CsvAudience()
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if not first:
        return result
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first))
    header: list[str] | None = None
    phone_col = 0
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None and not result.recipients and not result.invalid_count:
            names = [c.strip().lower() for c in row]
            named = next((i for i, n in enumerate(names) if n in PHONE_HEADERS), None)
            phone_col = named if named is not None else 0
            if named is not None or not _is_phone(row[phone_col]):
                header = [c.strip() for c in row]
                result.columns = [h for i, h in enumerate(header) if i != phone_col and h]
                continue
            header = []
        cell = row[phone_col] if phone_col < len(row) else ""
        try:
            phone = normalise_recipient(cell)
        except InvalidPhoneNumber as exc:
            result.reject(line, cell.strip(), str(exc) if cell.strip() else "no phone number")
            continue
        if phone in seen:
            result.duplicates += 1
            continue
        seen.add(phone)
        fields = {
            name: row[i].strip()
            for i, name in enumerate(header or [])
            if i != phone_col and name and i < len(row)
        }
        result.recipients.append(CsvRecipient(line, phone, fields))
    return result
