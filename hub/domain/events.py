"""Real-time event types: this module is the WebSocket wire schema.

Every event the hub pushes is one of the structs below, encoded with msgspec. Durable events
(`message.created`, `message.status`, `conversation.updated`) carry the account sequence number
they were stored under and can be replayed; ephemeral ones (`typing`, `presence`) carry the
sequence number current when they were sent and are never replayed.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Author(msgspec.Struct, frozen=True):
    kind: Literal["contact", "agent", "bot", "system", "email"]
    id: str | None = None
    name: str | None = None


class MediaPayload(msgspec.Struct, frozen=True):
    id: str | None
    mime: str
    kind: str
    size: int
    filename: str | None
    url: str | None
    rejected: str | None = None


class StatusChange(msgspec.Struct, frozen=True):
    status: str
    at: str
    detail: str | None = None


class MessagePayload(msgspec.Struct, frozen=True):
    id: str
    conversation_id: str
    direction: Literal["in", "out"]
    sender: str
    recipient: str
    text: str
    media: list[MediaPayload]
    status: str
    status_history: list[StatusChange]
    author: Author
    segments: int
    encoding: str
    seq: int
    created_at: str


class ContactPayload(msgspec.Struct, frozen=True):
    id: str
    phone: str
    name: str | None = None


class LastMessage(msgspec.Struct, frozen=True):
    text: str
    direction: Literal["in", "out"]
    at: str
    has_media: bool = False


class ConversationPayload(msgspec.Struct, frozen=True):
    id: str
    number_id: str
    number: str
    contact: ContactPayload
    status: Literal["open", "pending", "closed"]
    assignee_id: str | None
    unread: int
    last_message: LastMessage | None
    last_message_at: str | None
    updated_at: str
    version: int = 0
    """Grows with every change of the conversation: keep the snapshot with the highest version."""


class StatusPayload(msgspec.Struct, frozen=True):
    message_id: str
    conversation_id: str
    status: str
    at: str
    detail: str | None = None


class TypingPayload(msgspec.Struct, frozen=True):
    conversation_id: str
    agent_id: str
    agent_name: str


class PresencePayload(msgspec.Struct, frozen=True):
    agent_id: str
    agent_name: str
    state: Literal["online", "offline"]


class MessageCreated(msgspec.Struct, frozen=True, tag_field="type", tag="message.created"):
    seq: int
    account_id: str
    at: str
    data: MessagePayload
    conversation: ConversationPayload


class MessageStatusChanged(msgspec.Struct, frozen=True, tag_field="type", tag="message.status"):
    seq: int
    account_id: str
    at: str
    data: StatusPayload


class ConversationUpdated(msgspec.Struct, frozen=True, tag_field="type", tag="conversation.updated"):
    seq: int
    account_id: str
    at: str
    data: ConversationPayload
    change: Literal["assigned", "status", "read", "contact"]


class Typing(msgspec.Struct, frozen=True, tag_field="type", tag="typing"):
    seq: int
    account_id: str
    at: str
    data: TypingPayload


class Presence(msgspec.Struct, frozen=True, tag_field="type", tag="presence"):
    seq: int
    account_id: str
    at: str
    data: PresencePayload


DurableEvent = MessageCreated | MessageStatusChanged | ConversationUpdated
EphemeralEvent = Typing | Presence
Event = MessageCreated | MessageStatusChanged | ConversationUpdated | Typing | Presence

DURABLE_TYPES: frozenset[str] = frozenset({"message.created", "message.status", "conversation.updated"})

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """Encode an event to its JSON wire form."""
    return _encoder.encode(event)


def decode_event(raw: bytes | str) -> Event:
    """Decode and validate an event from its JSON wire form.

    Raises:
        msgspec.ValidationError: the JSON is not a valid event.
    """
    event: Event = _decoder.decode(raw)
    return event


def event_json_schema() -> dict[str, object]:
    """The JSON Schema of every event type, for docs and for clients."""
    schema: dict[str, object] = msgspec.json.schema(Event)
    return schema
