"""The account event log: what a reconnecting WebSocket client replays from."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from hub.store.accounts import utcnow

EVENT_RETENTION_S = 7 * 24 * 3600


class EventRecord(Document):
    """A durable event exactly as it was pushed (`payload` is the encoded JSON)."""

    account_id: PydanticObjectId
    seq: int
    type: str
    payload: bytes
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "events"
        indexes = [
            IndexModel([("account_id", ASCENDING), ("seq", ASCENDING)], unique=True),
            IndexModel([("at", ASCENDING)], expireAfterSeconds=EVENT_RETENTION_S),
        ]
