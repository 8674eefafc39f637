"""Shared steps of the message services: contacts, conversations and the final event."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from hub.domain import events as ev
from hub.domain.messages import Direction
from hub.realtime.bus import EventBus, now_iso
from hub.realtime.payloads import conversation_payload, message_payload
from hub.store import from_doc
from hub.store.accounts import utcnow
from hub.store.conversations import Contact, Conversation, ConversationStatus
from hub.store.messages import Message
from hub.store.numbers import Number


async def _upsert(coll: Any, key: dict[str, Any], on_insert: dict[str, Any]) -> dict[str, Any]:
    """Find the document with `key`, creating it if absent, safe against concurrent callers.

    Two first messages from one phone can race: the loser's upsert fails on the unique index (or,
    on some servers, matches nothing); either way the winner's document is read back.
    """
    for _ in range(3):
        try:
            doc = await coll.find_one_and_update(
                key, {"$setOnInsert": {**key, **on_insert}}, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            doc = None
        if doc is None:
            doc = await coll.find_one(key)
        if doc is not None:
            return dict(doc)
    raise RuntimeError(f"could not create or read {coll.name} {key}")


async def upsert_contact(account_id: PydanticObjectId, phone: str) -> Contact:
    doc = await _upsert(
        Contact.get_pymongo_collection(),
        {"account_id": account_id, "phone": phone},
        {"name": None, "created_at": utcnow()},
    )
    return from_doc(Contact, doc)


async def upsert_conversation(account_id: PydanticObjectId, number: Number, contact: Contact) -> Conversation:
    """The account's conversation with the contact on the number (several accounts share ND/SC)."""
    now = utcnow()
    doc = await _upsert(
        Conversation.get_pymongo_collection(),
        {"account_id": account_id, "number_id": number.id, "contact_id": contact.id},
        {
            "number": number.e164,
            "contact_phone": contact.phone,
            "contact_name": contact.name,
            "status": ConversationStatus.OPEN.value,
            "assignee_id": None,
            "unread": 0,
            "last_message": None,
            "last_message_at": None,
            "version": 0,
            "applied_ids": [],
            "created_at": now,
            "updated_at": now,
        },
    )
    return from_doc(Conversation, doc)


# How many recent message ids a conversation remembers as counted. A retry of a message older
# than that many newer ones in the same conversation would be counted twice; gateways retry
# within minutes.
APPLIED_KEEP = 200


async def apply_to_conversation(message: Message) -> Conversation:
    """Count a stored message into its conversation, exactly once.

    The conversation remembers the ids of the messages it has counted, in the same atomic
    update that counts them, so a retry finishing an interrupted attempt counts nothing twice
    and a failure half-way counts nothing at all.
    """
    coll = Conversation.get_pymongo_collection()
    summary = {
        "text": message.text[:200],
        "direction": message.direction.value,
        "at": message.created_at,
        "has_media": bool(message.media),
    }
    now = utcnow()
    update: dict[str, Any] = {
        "$set": {"last_message": summary, "updated_at": now},
        "$max": {"last_message_at": now},
        "$inc": {"version": 1},
        "$push": {"applied_ids": {"$each": [message.id], "$slice": -APPLIED_KEEP}},
    }
    if message.direction == Direction.INBOUND:
        # A customer writing again reopens a closed conversation.
        update["$set"]["status"] = ConversationStatus.OPEN.value
        update["$inc"]["unread"] = 1
    else:
        # An agent answering has read the thread.
        update["$set"]["unread"] = 0
    doc = await coll.find_one_and_update(
        {"_id": message.conversation_id, "applied_ids": {"$ne": message.id}},
        update,
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        doc = await coll.find_one({"_id": message.conversation_id})
        if doc is None:
            raise RuntimeError(f"conversation {message.conversation_id} of message {message.id} is gone")
    return from_doc(Conversation, doc)


async def finish_message(bus: EventBus, message: Message) -> Conversation:
    """Update the conversation and record `message.created`; safe to repeat."""
    conv = await apply_to_conversation(message)
    await bus.record(
        ev.MessageCreated(
            seq=message.seq,
            account_id=str(message.account_id),
            at=now_iso(),
            data=message_payload(message),
            conversation=conversation_payload(conv),
        )
    )
    return conv
