"""Which agents have a socket open, across every hub process."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pymongo import ASCENDING, IndexModel


class PresenceRecord(Document):
    """One open agent socket. Refreshed while the socket lives; expires if its process dies."""

    id: str  # type: ignore[assignment]
    account_id: PydanticObjectId
    agent_id: PydanticObjectId
    agent_name: str
    expires_at: datetime

    class Settings:
        name = "presence"
        indexes = [
            IndexModel([("account_id", ASCENDING), ("agent_id", ASCENDING)]),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ]
