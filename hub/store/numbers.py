"""The phone numbers and short codes messages arrive on."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from hub.domain.numbers import NumberType
from hub.store.accounts import utcnow


class Number(Document):
    """A number the hub receives on. `e164` holds digits only for short codes."""

    account_id: PydanticObjectId
    e164: str
    type: NumberType
    provider: str = "simulator"
    label: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "numbers"
        indexes = [
            IndexModel([("e164", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING)]),
        ]
