"""Screens (billboards and chat screens), what reached them, their nicknames and their event logs."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import HoldsACounter, utcnow

LOG_TRIM_EVERY = 64
"""A screen's log is trimmed when an event's seq is a multiple of this (see `services.displays.record`)."""


class DisplayDoc(HoldsACounter, Document):
    account_id: PydanticObjectId
    mode: str = "billboard"
    """"billboard" or "chat"."""
    title: str
    number_id: PydanticObjectId
    number: str
    keyword: str | None = None
    """Normalised; None shows every message to the number."""
    background: str = "#101820"
    foreground: str = "#ffffff"
    accent: str = "#ffb000"
    logo_url: str | None = None
    logo_file_id: PydanticObjectId | None = None
    lifetime_s: int = 300
    max_shown: int = 8
    moderation: str = "post"
    filter_action: str = "queue"
    words: list[str] = Field(default_factory=list)
    blocked: list[str] = Field(default_factory=list)
    masked: bool = True
    survey_id: PydanticObjectId | None = None
    cycle_when_quiet: bool = True
    language: str = "pl"
    """The language of the screen's own words ("pl" or "en"), whatever the viewer's browser prefers."""
    host_name: str = "Prowadzący"
    """Who hosts' answers are from on a chat screen; an agent's own name never reaches a screen."""
    token_hash: str
    """SHA-256 of the screen link's token; the token itself is shown once and never stored."""
    seq: int = 0
    """The screen's own event sequence (its log is separate from the account's)."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "displays"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True),
            IndexModel([("account_id", ASCENDING), ("number", ASCENDING)]),
            IndexModel([("account_id", ASCENDING), ("survey_id", ASCENDING)]),
        ]


class ItemMedia(BaseModel):
    file_id: PydanticObjectId
    mime: str
    kind: str


class DisplayItem(Document):
    """A message as one screen treats it: shown, waiting for a moderator, removed or never shown."""

    display_id: PydanticObjectId
    account_id: PydanticObjectId
    message_id: PydanticObjectId
    conversation_id: PydanticObjectId
    author: str = "texter"
    sender: str
    """The real number: kept for moderators and host replies, never sent to the screen."""
    text: str
    media: list[ItemMedia] = Field(default_factory=list)
    status: str
    reason: str | None = None
    reply_to: PydanticObjectId | None = None
    shown_seq: int | None = None
    """The screen sequence number of its `display.message` event once shown."""
    removed_seq: int | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "display_items"
        indexes = [
            # A retried webhook reaches each screen once.
            IndexModel([("display_id", ASCENDING), ("message_id", ASCENDING)], unique=True),
            IndexModel([("display_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)]),
            # What a screen shows, newest first, read by windows of sequence numbers: SecantusDB
            # reads every document a filter selects before it sorts and limits.
            IndexModel([("display_id", ASCENDING), ("status", ASCENDING), ("shown_seq", ASCENDING)]),
        ]


class DisplayNick(Document):
    display_id: PydanticObjectId
    phone: str
    nick: str
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "display_nicks"
        indexes = [IndexModel([("display_id", ASCENDING), ("phone", ASCENDING)], unique=True)]


class DisplayEventRecord(Document):
    """A screen event exactly as sent (`payload` is the encoded JSON).

    A screen's log keeps its latest events, as many as a resuming screen may be replayed, and is
    trimmed by ranges of seq as it grows. Not by a TTL index: SecantusDB's expiry sweep decodes
    every document of the collection once a minute, a cost that grows with every text shown.
    """

    display_id: PydanticObjectId
    seq: int
    type: str
    payload: bytes
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "display_events"
        indexes = [
            IndexModel([("display_id", ASCENDING), ("seq", ASCENDING)], unique=True),
        ]


EXPIRY_INDEX = "at_1"
"""The TTL index earlier versions kept the screens' logs by."""


async def drop_log_expiry() -> None:
    """Drop the screens' logs' former TTL index where a database still has it (once, at start)."""
    events = DisplayEventRecord.get_pymongo_collection()
    names = [index["name"] async for index in await events.list_indexes()]
    if EXPIRY_INDEX in names:
        await events.drop_index(EXPIRY_INDEX)
