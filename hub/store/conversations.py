"""Contacts and the conversations the inbox lists."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.domain.search import conversation_keys
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


class CampaignLink(BaseModel):
    id: str
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
    campaign: CampaignLink | None = None
    """The latest campaign whose message reached the contact in this conversation."""
    queue: PydanticObjectId | None = None
    """The account's id while the conversation waits in its capacity routing queue: the queue is
    read by this equality (hub.services.capacity)."""
    waiting_since: datetime | None = None
    """Set while the conversation waits in the capacity routing queue (open, unassigned); cleared
    when it is assigned or closed (hub.services.capacity)."""
    snoozed_until: datetime | None = None
    """Out of the open list until then; a new inbound text or the wake-up job clears it
    (hub.services.snooze)."""
    closed_at: datetime | None = None
    """When it was last closed; cleared when it reopens, so that the text that reopens it can be told."""
    label_ids: list[PydanticObjectId] = Field(default_factory=list)
    """The account's labels put on it (hub.services.labels)."""
    version: int = 0
    """Bumped by every change, so clients keep the newest snapshot whatever order events come in."""
    search_keys: list[str] = Field(default_factory=list)
    """What the inbox search finds it by: runs of the contact's phone digits and prefixes of the
    words of its name (hub.domain.search)."""
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
            # Capacity routing: the queue, and each agent's open conversations.
            IndexModel([("queue", ASCENDING)]),
            IndexModel([("assignee_id", ASCENDING), ("status", ASCENDING)]),
            # The label filter: one equality read on a label id, which belongs to one account.
            IndexModel(
                [("label_ids", ASCENDING), ("account_id", ASCENDING), ("last_message_at", DESCENDING)]
            ),
            # The inbox search: one equality read on a key (SecantusDB has no text index).
            IndexModel(
                [("search_keys", ASCENDING), ("account_id", ASCENDING), ("last_message_at", DESCENDING)]
            ),
        ]


async def rename_contact(account_id: PydanticObjectId, phone: str, name: str | None) -> None:
    """Carry a contact's new name to its conversations: the inbox shows it and finds them by it."""
    await Conversation.get_pymongo_collection().update_many(
        {"account_id": account_id, "contact_phone": phone},
        {"$set": {"contact_name": name, "search_keys": conversation_keys(phone, name)}},
    )


async def index_for_search() -> int:
    """Give the conversations stored before the search keys existed their keys; returns how
    many it updated. It reads every conversation lacking keys (a scan on SecantusDB), so it runs
    once per database, as the migration `conversation-search-keys` (`hub.store.migrations`)."""
    coll = Conversation.get_pymongo_collection()
    updated = 0
    cursor = coll.find(
        {"search_keys": {"$exists": False}}, projection={"contact_phone": 1, "contact_name": 1}
    )
    async for doc in cursor:
        keys = conversation_keys(str(doc.get("contact_phone") or ""), doc.get("contact_name"))
        await coll.update_one({"_id": doc["_id"]}, {"$set": {"search_keys": keys}})
        updated += 1
    return updated
