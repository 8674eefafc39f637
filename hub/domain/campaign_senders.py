"""Which virtual number a campaign recipient is sent from, and what a sender may be.

A reply to a 2WAY virtual number is routed by its (virtual number, recipient) pair
(`hub.store.audience.CampaignRecipient`), so that pair may belong to one live campaign only:
while another campaign may still get replies on it, the recipient is sent from another pool
number. A binding counts as live for `REPLY_WINDOW` after its message was sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Final

REPLY_WINDOW: Final = timedelta(days=7)
"""How long a campaign message's replies are expected (and its sender pair kept for it)."""
_SENDER_NAME: Final = re.compile(r"[A-Za-z0-9 .\-]{1,11}")


def binding_live(sent_at: datetime, now: datetime) -> bool:
    return now - sent_at < REPLY_WINDOW


def pick_number(pool: Sequence[str], busy: Collection[str], n: int) -> str | None:
    """A pool number for the `n`-th recipient that no other live campaign holds for that
    recipient (`busy`); recipients are spread over the pool. None when every one is busy."""
    if not pool:
        return None
    for step in range(len(pool)):
        candidate = pool[(n + step) % len(pool)]
        if candidate not in busy:
            return candidate
    return None


def check_sender_name(name: str) -> str:
    """A text sender name: 1 to 11 of letters, digits, space, '.', '-', not only digits.

    Raises:
        ValueError: with the reason.
    """
    value = name.strip()
    if _SENDER_NAME.fullmatch(value) is None:
        raise ValueError("a sender name is 1 to 11 characters: letters A-Z, digits, space, '.' and '-'")
    if not any(ch.isalpha() for ch in value):
        raise ValueError("a sender name needs a letter (only digits would read as a phone number)")
    return value
