"""The usage ledger: one entry per billable send, and each account's limits and monthly counters.

An entry is keyed by what was sent (a message id, a forward delivery and its replay), so a retried
job finds the entry it made and never bills twice. An entry is `reserved` when the units are taken
from the account's limits (before the send), `billed` once the gateway took the message, `released`
(units given back) when the send failed before reaching the gateway.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from hub.store.accounts import utcnow


class UsageState(StrEnum):
    RESERVED = "reserved"
    BILLED = "billed"
    RELEASED = "released"


class UsageEntry(Document):
    """One billable send. `id` is its key: `msg:<message id>` or `fwd:<delivery id>:<replay>`."""

    id: str  # type: ignore[assignment]
    account_id: PydanticObjectId
    month: str
    """"YYYY-MM" in Europe/Warsaw time, when the send was reserved."""
    kind: str
    """What was sent: reply, autoreply, survey, help, opt_in, campaign, forward (see hub.services.usage)."""
    channel: str
    """"sms", "mms" or "forward"."""
    segments: int = 0
    units: int = 0
    state: UsageState = UsageState.RESERVED
    message_id: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)
    """When the units were (last) reserved."""
    billed_at: datetime | None = None

    class Settings:
        name = "usage_entries"
        indexes = [
            # Monthly totals: one account's month, and every account's month.
            IndexModel([("account_id", ASCENDING), ("month", ASCENDING)], name="account_month"),
            IndexModel([("month", ASCENDING), ("account_id", ASCENDING)], name="month_account"),
            # The sweep of reservations left by a process that died (workers/usage_sweep.py).
            IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="state_created"),
        ]


class UsageLimits(Document):
    """An account's limits; no document, or a null field, means no limit. `id` is the account's id."""

    id: PydanticObjectId
    monthly_segments: int | None = None
    """Units an account may use in a calendar month (Europe/Warsaw)."""
    balance_units: int | None = None
    """A prepaid balance: each send takes its units, and nothing is sent once it is too low."""

    class Settings:
        name = "usage_limits"


class UsageMonth(Document):
    """Units reserved or billed in one account's month: what the monthly limit is checked against.
    `id` is `<account id>:<YYYY-MM>`."""

    id: str  # type: ignore[assignment]
    account_id: PydanticObjectId
    month: str
    units: int = 0

    class Settings:
        name = "usage_months"
