"""Messages, their attachments and their status history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.domain.messages import Direction, MessageStatus
from hub.domain.search import text_keys
from hub.store.accounts import utcnow


class StoredMedia(BaseModel):
    """An attachment: stored in GridFS when accepted, described with a reason when rejected."""

    file_id: PydanticObjectId | None = None
    mime: str = "application/octet-stream"
    kind: str = "application"
    size: int = 0
    filename: str | None = None
    source_url: str | None = None
    rejected: str | None = None


class StatusEntry(BaseModel):
    status: MessageStatus
    at: datetime
    detail: str | None = None
    seq: int | None = None
    """Sequence number of the `message.status` event of this change."""


class MessageAuthor(BaseModel):
    kind: str
    id: PydanticObjectId | None = None
    name: str | None = None


class KeywordRef(BaseModel):
    """The keyword an inbound message was routed by."""

    id: str
    text: str
    kind: str
    param: str = ""
    counted: bool = False
    """Counts in keyword statistics (individual numbers; ND and SC offer no statistics)."""


class RoutingRecord(BaseModel):
    """What routing decided for an inbound message, kept so a retry re-applies the same decision.

    `actions` are `hub.domain.routing` actions as plain data (see hub.services.routing).
    """

    actions: list[dict[str, Any]] = Field(default_factory=list)
    applied: bool = False
    best_effort: bool = False
    word: str | None = None
    """The opt-out, opt-in or help word the message was taken as (`Decision.word`): screens never show it."""
    withheld: list[dict[str, Any]] = Field(default_factory=list)
    """Automatic replies routing did not send, and why (`hub.domain.routing.Withheld` as data)."""


class Message(Document):
    account_id: PydanticObjectId
    conversation_id: PydanticObjectId
    direction: Direction
    sender: str
    recipient: str
    text: str
    search_keys: list[str] = Field(default_factory=list)
    """What the inbox search finds it by: prefixes of the words of its text (hub.domain.search),
    written with the message."""
    media: list[StoredMedia] = Field(default_factory=list)
    provider: str
    provider_message_id: str | None = None
    client_id: str | None = None
    status: MessageStatus
    status_history: list[StatusEntry] = Field(default_factory=list)
    author: MessageAuthor
    segments: int = 1
    encoding: str = "GSM-7"
    seq: int
    keyword: KeywordRef | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    """The campaign an outbound campaign message belongs to, or the one a reply answers."""
    routing: RoutingRecord | None = None
    send_claimed_at: datetime | None = None
    """When a send job took the message; a second job leaves a claimed message alone."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "messages"
        indexes = [
            # A retried webhook hits this index and never becomes a second message.
            IndexModel(
                [("provider", ASCENDING), ("provider_message_id", ASCENDING)],
                unique=True,
                partialFilterExpression={"provider_message_id": {"$type": "string"}},
                name="provider_message_unique",
            ),
            # Look-ups by provider id (a retried webhook, a delivery report) and by client id (a
            # retried reply) use these: SecantusDB answers no query from a partial index.
            IndexModel([("provider_message_id", ASCENDING)], name="provider_message_lookup"),
            IndexModel([("client_id", ASCENDING)], name="client_id_lookup"),
            # ECO+: the last message sent to a phone from the pool's numbers.
            IndexModel([("recipient", ASCENDING), ("created_at", DESCENDING)], name="recipient_recent"),
            # An agent's retried reply (same client id) is stored once.
            IndexModel(
                [("account_id", ASCENDING), ("client_id", ASCENDING)],
                unique=True,
                partialFilterExpression={"client_id": {"$type": "string"}},
                name="client_id_unique",
            ),
            # A thread in arrival order, paged by sequence number.
            IndexModel([("conversation_id", ASCENDING), ("seq", DESCENDING)]),
            IndexModel([("account_id", ASCENDING), ("seq", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("created_at", ASCENDING)]),
            # The inbox search by a word of the text: one equality read on a key, newest first.
            IndexModel(
                [("search_keys", ASCENDING), ("account_id", ASCENDING), ("created_at", DESCENDING)],
                name="message_search",
            ),
            # Statistics: messages per number per day, keyword popularity.
            IndexModel([("account_id", ASCENDING), ("created_at", ASCENDING)]),
        ]


async def index_texts_for_search() -> int:
    """Give the messages stored before messages had search keys the keys of their text; returns
    how many it updated. It reads every message lacking keys (a scan on SecantusDB), so it runs
    once per database, as the migration `message-search-keys` (`hub.store.migrations`)."""
    coll = Message.get_pymongo_collection()
    updated = 0
    async for doc in coll.find({"search_keys": {"$exists": False}}, projection={"text": 1}):
        await coll.update_one(
            {"_id": doc["_id"]}, {"$set": {"search_keys": text_keys(str(doc.get("text") or ""))}}
        )
        updated += 1
    return updated
