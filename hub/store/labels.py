"""The account's conversation labels, and each agent's saved inbox views."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from hub.store.accounts import utcnow


class Label(Document):
    """A label admins define; conversations hold its id in `label_ids` (hub.services.labels)."""

    account_id: PydanticObjectId
    name: str
    name_key: str
    """The name as compared for duplicates (case ignored): unique per account."""
    colour: str
    """A key of hub.domain.labels.PALETTE."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "labels"
        indexes = [IndexModel([("account_id", ASCENDING), ("name_key", ASCENDING)], unique=True)]


class SavedView(Document):
    """A named combination of the inbox list's filters, one agent's own (hub.services.views)."""

    account_id: PydanticObjectId
    agent_id: PydanticObjectId
    name: str
    name_key: str
    filters: dict[str, str | bool] = Field(default_factory=dict)
    """Query parameters of `GET /api/conversations` (hub.domain.labels.VIEW_FIELDS)."""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "saved_views"
        indexes = [IndexModel([("agent_id", ASCENDING), ("name_key", ASCENDING)], unique=True)]
