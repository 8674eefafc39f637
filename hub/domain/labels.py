"""Conversation labels and saved inbox views: the palette, names and filter fields, checked without I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

MAX_NAME = 40
"""Characters of a label's or a view's name."""


@dataclass(frozen=True)
class Colour:
    """A chip's colours: dark text on a light background, readable at any size (WCAG AA, 4.5:1)."""

    background: str
    text: str


# A fixed palette, so that every label stays readable: admins pick a name, not a hex value.
PALETTE: Final[dict[str, Colour]] = {
    "grey": Colour("#e5e7eb", "#1f2937"),
    "red": Colour("#fee2e2", "#991b1b"),
    "orange": Colour("#ffedd5", "#9a3412"),
    "yellow": Colour("#fef9c3", "#854d0e"),
    "green": Colour("#dcfce7", "#166534"),
    "teal": Colour("#ccfbf1", "#115e59"),
    "blue": Colour("#dbeafe", "#1e40af"),
    "purple": Colour("#ede9fe", "#5b21b6"),
    "pink": Colour("#fce7f3", "#9d174d"),
}

STATUSES: Final = frozenset({"open", "pending", "closed", "snoozed"})
VIEW_FIELDS: Final = ("number_id", "label", "status", "assignee", "unread")
"""What a saved view may hold: the list's filters, named as `GET /api/conversations` names them."""


class InvalidName(ValueError):
    pass


def clean_name(raw: object) -> str:
    """A label's or view's name with its spaces tidied.

    Raises:
        InvalidName: not a string, empty, too long, or holding control characters.
    """
    if not isinstance(raw, str):
        raise InvalidName("name must be a string")
    name = " ".join(raw.split())
    if not name:
        raise InvalidName("name must not be empty")
    if len(name) > MAX_NAME:
        raise InvalidName(f"name must have at most {MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidName("name must not hold control characters")
    return name


def name_key(name: str) -> str:
    """What makes two names the same: case is ignored (`Pilne` and `PILNE` are one label)."""
    return unicodedata.normalize("NFC", name).casefold()


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of `#rrggbb`."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


class InvalidFilters(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_filters(raw: object) -> dict[str, str | bool]:
    """A view's filters, their shapes checked (the ids are checked against the account by the service).

    Raises:
        InvalidFilters: not an object, an unknown field, or a value of the wrong kind.
    """
    if not isinstance(raw, dict):
        raise InvalidFilters("filters must be an object", "filters")
    unknown = sorted(set(raw) - set(VIEW_FIELDS))
    if unknown:
        raise InvalidFilters(
            f"unknown filter field(s): {', '.join(map(str, unknown))} (known: {', '.join(VIEW_FIELDS)})",
            f"filters.{unknown[0]}",
        )
    out: dict[str, str | bool] = {}
    for field in VIEW_FIELDS:
        value = raw.get(field)
        if value is None or value == "":
            continue
        if field == "unread":
            if not isinstance(value, bool):
                raise InvalidFilters("unread must be true or false", "filters.unread")
            if value:
                out[field] = True
            continue
        if not isinstance(value, str) or len(value) > 40:
            raise InvalidFilters(f"{field} must be a short string", f"filters.{field}")
        if field == "status" and value not in STATUSES:
            raise InvalidFilters("status must be open, pending, closed or snoozed", "filters.status")
        out[field] = value
    return out
