"""Private notes in a conversation's thread: written by agents, never sent to anyone.

Kept apart from `messages` on purpose: everything that reads messages (gateways, usage, bots,
screens, forwarding, statistics, search, unread counts, the last-message preview) never sees a
note, without a filter each of them would have to remember.
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import utcnow


class Note(Document):
    account_id: PydanticObjectId
    conversation_id: PydanticObjectId
    author_id: PydanticObjectId
    author_name: str
    text: str
    mentions: list[PydanticObjectId] = Field(default_factory=list)
    seq: int
    """The account sequence number of its `note.created` event: orders it among the messages."""
    client_id: str | None = None
    """The author's id for this note: a retried request stores it once."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "notes"
        indexes = [
            IndexModel([("conversation_id", ASCENDING), ("seq", DESCENDING)]),
            IndexModel([("account_id", ASCENDING), ("mentions", ASCENDING), ("seq", DESCENDING)]),
            IndexModel(
                [("account_id", ASCENDING), ("author_id", ASCENDING), ("client_id", ASCENDING)],
                unique=True,
                partialFilterExpression={"client_id": {"$type": "string"}},
            ),
        ]
