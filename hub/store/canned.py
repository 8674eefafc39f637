"""Canned replies: account-wide ones (admins manage them) and each agent's personal ones."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from hub.store.accounts import utcnow


class CannedReply(Document):
    account_id: PydanticObjectId
    owner_id: PydanticObjectId | None = None
    """The agent whose personal reply it is; None: account-wide."""
    shortcut: str
    """Lower case, without the leading `/` (hub.domain.canned.clean_shortcut)."""
    text: str
    created_by: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "canned_replies"
        indexes = [
            # One shortcut once among the account-wide replies, and once among each agent's own.
            IndexModel(
                [("account_id", ASCENDING), ("owner_id", ASCENDING), ("shortcut", ASCENDING)], unique=True
            ),
        ]
