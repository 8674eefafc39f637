"""The audit log: every set-up change made by an operator, an account's admin or the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import utcnow


class AuditEntry(Document):
    """One change: who made it, to what, and the changed fields before and after.

    `before` and `after` hold only the fields that changed (all of them for a creation or a
    deletion); a secret (a password, a token, a webhook secret) is written as "changed", never
    with its value."""

    at: datetime = Field(default_factory=utcnow)
    actor_kind: str
    """"agent", "token" or "cli"."""
    actor_id: str | None = None
    """The agent's or the token's id; the OS user for "cli"."""
    actor_email: str | None = None
    actor_name: str = ""
    actor_account_id: PydanticObjectId | None = None
    action: str
    """`<target>.<verb>`: `account.suspend`, `number.edit`, `keyword.create`, `token.delete` …"""
    target_type: str
    target_id: str | None = None
    account_id: PydanticObjectId | None = None
    """The account the change belongs to; None for a shared number (the operator's)."""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    class Settings:
        name = "audit"
        indexes = [
            IndexModel([("account_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("actor_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("actor_email", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("action", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("at", DESCENDING)]),
        ]
