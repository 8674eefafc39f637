"""Contacts and the conversations the inbox lists."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import utcnow


class Contact(Document):
    account_id: PydanticObjectId
    phone: str
    name: str | None = None
    group_ids: list[PydanticObjectId] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict)
    """Further fields for autoresponder templates ({city}, {company}, ...)."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "contacts"
        indexes = [
            IndexModel([("account_id", ASCENDING), ("phone", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING), ("group_ids", ASCENDING)]),
        ]


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class LastMessageSummary(BaseModel):
    text: str
    direction: str
    at: datetime
    has_media: bool = False


class HandoverByModel(BaseModel):
    kind: str
    """"bot" (an API token) or "agent"."""
    name: str


class Conversation(Document):
    """One thread per (number, contact) pair; a closed one reopens when the contact writes again."""

    account_id: PydanticObjectId
    number_id: PydanticObjectId
    number: str
    contact_id: PydanticObjectId
    contact_phone: str
    contact_name: str | None = None
    status: ConversationStatus = ConversationStatus.OPEN
    assignee_id: PydanticObjectId | None = None
    unread: int = 0
    last_message: LastMessageSummary | None = None
    last_message_at: datetime | None = None
    handover: bool = False
    """A bot handed the conversation to a human: bots receive none of its messages until it is
    handed back (hub.services.bots)."""
    handover_note: str | None = None
    handover_by: HandoverByModel | None = None
    """Who handed it over (a bot by its token's name, or an agent), while `handover` is set."""
    version: int = 0
    """Bumped by every change, so clients keep the newest snapshot whatever order events come in."""
    applied_ids: list[PydanticObjectId] = Field(default_factory=list)
    """Recent messages already counted into this conversation (see services.threads)."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "conversations"
        indexes = [
            IndexModel(
                [("account_id", ASCENDING), ("number_id", ASCENDING), ("contact_id", ASCENDING)], unique=True
            ),
            # The inbox list: newest first, optionally by status or assignee.
            IndexModel([("account_id", ASCENDING), ("last_message_at", DESCENDING)]),
            IndexModel([("account_id", ASCENDING), ("status", ASCENDING), ("last_message_at", DESCENDING)]),
            IndexModel(
                [("account_id", ASCENDING), ("assignee_id", ASCENDING), ("last_message_at", DESCENDING)]
            ),
            IndexModel([("account_id", ASCENDING), ("contact_phone", ASCENDING)]),
        ]
