"""Canned replies: a shortcut and a text with campaign-style variables, filled for one conversation.

The text uses the campaigns' `{field}` / `{field|fallback}` syntax (hub.domain.campaign_text), so
a malformed brace is refused with its position when the reply is saved, not when an agent inserts
it. Filling it takes the contact's name, phone and fields, and `{agent}`, the agent inserting it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from hub.domain import campaign_text

SHORTCUT_MAX: Final = 32
TEXT_MAX: Final = 1600
# Starts with a letter or digit (Polish letters too), then letters, digits, - and _.
_SHORTCUT: Final = re.compile(r"[^\W_][\w-]*")


class CannedError(ValueError):
    """A shortcut or text that cannot be saved; `field` names which."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def clean_shortcut(raw: object) -> str:
    """The shortcut as stored: without a leading `/`, lower case.

    Raises:
        CannedError: not a string, empty, too long, or with characters other than letters, digits, - and _.
    """
    if not isinstance(raw, str):
        raise CannedError("shortcut must be a string", "shortcut")
    shortcut = raw.strip().removeprefix("/").lower()
    if not shortcut:
        raise CannedError("shortcut is empty", "shortcut")
    if len(shortcut) > SHORTCUT_MAX:
        raise CannedError(f"shortcut is longer than {SHORTCUT_MAX} characters", "shortcut")
    if _SHORTCUT.fullmatch(shortcut) is None:
        raise CannedError(
            f"shortcut may hold only letters, digits, - and _, starting with a letter or digit (got {raw!r})",
            "shortcut",
        )
    return shortcut


def check_text(raw: object) -> str:
    """The text as stored.

    Raises:
        CannedError: not a string, blank, too long, or a malformed variable (with its position).
    """
    if not isinstance(raw, str):
        raise CannedError("text must be a string", "text")
    if not raw.strip():
        raise CannedError("text is empty", "text")
    if len(raw) > TEXT_MAX:
        raise CannedError(f"text is longer than {TEXT_MAX} characters", "text")
    try:
        campaign_text.parse(raw)
    except campaign_text.TemplateError as exc:
        raise CannedError(str(exc), "text") from None
    return raw


def fields_for(
    contact_name: str | None, phone: str, contact_fields: Mapping[str, str], agent_name: str
) -> dict[str, str]:
    """The values a canned reply's variables take in one conversation: the contact's fields (in
    lower case, as campaigns key them), `name`, `phone` and `agent`."""
    fields = {str(k).lower(): str(v) for k, v in contact_fields.items()}
    fields["phone"] = phone
    if contact_name:
        fields["name"] = contact_name
    else:
        fields.pop("name", None)
    fields["agent"] = agent_name
    return fields


def render(text: str, fields: Mapping[str, str]) -> str:
    """Fill a saved text (already checked: a malformed one renders as it is)."""
    try:
        return campaign_text.render(text, fields)
    except campaign_text.TemplateError:
        return text
