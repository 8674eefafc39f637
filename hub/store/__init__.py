"""Beanie documents and the MongoDB connection."""

from __future__ import annotations

from beanie import Document

from hub.store.accounts import Account, Agent, ApiToken, LoginSession
from hub.store.conversations import Contact, Conversation
from hub.store.events import EventRecord
from hub.store.messages import Message
from hub.store.numbers import Number

ALL_DOCUMENTS: list[type[Document]] = [
    Account,
    Agent,
    ApiToken,
    LoginSession,
    Number,
    Contact,
    Conversation,
    Message,
    EventRecord,
]
