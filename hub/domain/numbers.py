"""Number types and what each allows.

ND and SC are shared between accounts (a keyword decides who gets a message); NDI and SCI
belong to one account; 2WAY is a virtual number that routes replies back to a campaign; OWN is
an account's own verified phone used as sender.
"""

from __future__ import annotations

from enum import StrEnum


class NumberType(StrEnum):
    ND = "ND"
    SC = "SC"
    NDI = "NDI"
    SCI = "SCI"
    TWO_WAY = "2WAY"
    OWN = "OWN"


SHARED_TYPES = frozenset({NumberType.ND, NumberType.SC})


def is_shared(kind: NumberType) -> bool:
    """Whether many accounts share the number, so only reserved keywords route to an account."""
    return kind in SHARED_TYPES


def takes_every_message(kind: NumberType) -> bool:
    """Whether every message to the number belongs to its one account, keyword or not."""
    return kind not in SHARED_TYPES
