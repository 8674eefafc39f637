"""Tenants and the people and programs that act for them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class HoldsACounter:
    """For documents whose `seq` other requests take numbers from with `$inc` (hub.store.grouped).

    A whole-document `save()` would write back the `seq` it read and hand the numbers taken since
    then out again, so it is refused: change such a document with `set()` (its fields only).
    """

    async def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__}.save() would write back seq: use set() with the fields")


class Account(HoldsACounter, Document):
    """A tenant. `seq` is the account's event sequence counter, bumped atomically."""

    name: str
    slug: str
    seq: int = 0
    operator: bool = False
    """The platform operator's account: its admins see messages that reached no account."""
    help_text: str | None = None
    """The answer to HELP / POMOC on the account's numbers."""
    opt_in_reply: str | None = None
    opt_out_words: list[str] | None = None
    """None: the default words (hub.domain.optout)."""
    opt_in_words: list[str] | None = None
    help_words: list[str] | None = None
    suspended_reason: str | None = None
    """Set while the operator has suspended the account: inbound is still stored, but nothing is
    sent for it (replies, automatic replies, forwards) and every refusal names this reason."""
    suspended_at: datetime | None = None
    exported_at: datetime | None = None
    """When the account's data was last exported: it may only be deleted after an export."""
    auto_assign: bool = False
    """Capacity routing: new and reopened conversations wait in a queue and are given to online
    agents with free capacity (hub.services.capacity)."""
    waiting_threshold_minutes: int = 0
    """A conversation waiting this long in the queue is flagged; 0: never."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "accounts"
        indexes = [IndexModel([("slug", ASCENDING)], unique=True)]


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class Agent(Document):
    account_id: PydanticObjectId
    email: str
    name: str
    password_hash: str
    role: Role = Role.AGENT
    active: bool = True
    capacity: int = 0
    """Open conversations capacity routing gives the agent at most; 0: none automatically."""
    last_assigned_at: datetime | None = None
    """When capacity routing last gave the agent a conversation (the round robin's order)."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "agents"
        indexes = [
            IndexModel([("email", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING), ("name", ASCENDING)]),
        ]


class ApiToken(Document):
    """An integration's credential. Only a SHA-256 of the token is kept."""

    account_id: PydanticObjectId
    name: str
    token_hash: str
    prefix: str
    created_by: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False
    numbers: list[PydanticObjectId] = Field(default_factory=list)
    """The numbers the token may act for (their conversations, events, replies); empty: all."""
    bot_acked_seq: int | None = None
    """A bot's last acknowledged event (/ws/bot): where it resumes when it reconnects without
    `since`. None until the token first connects as a bot."""
    bot_missing: list[int] = Field(default_factory=list)
    """Sequence numbers below `bot_acked_seq` the bot had not received when it acknowledged."""

    class Settings:
        name = "api_tokens"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING)]),
        ]


class LoginSession(Document):
    """An agent's browser session. Only a SHA-256 of the session token is kept."""

    account_id: PydanticObjectId
    agent_id: PydanticObjectId
    token_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime

    class Settings:
        name = "sessions"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ]
