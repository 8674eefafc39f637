"""Shared steps of the message services: contacts, conversations and the final event."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain import events as ev
from hub.domain.messages import Direction
from hub.domain.search import conversation_keys
from hub.realtime.bus import EventBus, now_iso
from hub.realtime.payloads import conversation_payload, message_payload
from hub.store import from_doc
from hub.store.accounts import utcnow
from hub.store.conversations import Contact, Conversation, ConversationStatus
from hub.store.grouped import Finds, Inserts, Updates
from hub.store.messages import Message
from hub.store.numbers import Number

# Concurrent messages share their round trips for these (hub.store.grouped). The key fields are
# in the order of each collection's unique index.
_contacts = Finds(Contact.get_pymongo_collection, ("account_id", "phone"))
_new_contacts = Inserts(Contact.get_pymongo_collection)
_conversations = Finds(Conversation.get_pymongo_collection, ("account_id", "number_id", "contact_id"))
_new_conversations = Inserts(Conversation.get_pymongo_collection)
_conversation_by_id = Finds(Conversation.get_pymongo_collection, ("_id",))
_conversation_updates = Updates(Conversation.get_pymongo_collection)


async def _find_or_create(
    finds: Finds, inserts: Inserts, key: dict[str, Any], on_insert: dict[str, Any]
) -> dict[str, Any]:
    """The document with `key`, created if absent; safe against concurrent callers.

    Most calls find it (a returning customer): one indexed read. Otherwise an insert: two first
    messages from one phone can race, and the loser's insert fails on the unique index, so it reads
    the winner's document. Not `find_one_and_update` with an upsert: SecantusDB re-checks its
    filter with a scan of the whole collection.
    """
    doc = await finds.find_one(*key.values())
    if doc is not None:
        return dict(doc)
    created = {"_id": ObjectId(), **key, **on_insert}
    try:
        await inserts.insert(created)
    except DuplicateKeyError:
        doc = await finds.find_one(*key.values())
        if doc is None:
            raise RuntimeError(f"could not create or read {key}") from None
        return dict(doc)
    return created


async def upsert_contact(account_id: PydanticObjectId, phone: str) -> Contact:
    doc = await _find_or_create(
        _contacts,
        _new_contacts,
        {"account_id": account_id, "phone": phone},
        {"name": None, "created_at": utcnow()},
    )
    return from_doc(Contact, doc)


async def upsert_conversation(account_id: PydanticObjectId, number: Number, contact: Contact) -> Conversation:
    """The account's conversation with the contact on the number (several accounts share ND/SC)."""
    now = utcnow()
    doc = await _find_or_create(
        _conversations,
        _new_conversations,
        {"account_id": account_id, "number_id": number.id, "contact_id": contact.id},
        {
            "number": number.e164,
            "contact_phone": contact.phone,
            "contact_name": contact.name,
            "search_keys": conversation_keys(contact.phone, contact.name),
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
        # A customer writing again reopens a closed or snoozed conversation.
        update["$set"]["status"] = ConversationStatus.OPEN.value
        update["$set"]["snoozed_until"] = None
        update["$inc"]["unread"] = 1
    else:
        # An agent answering has read the thread.
        update["$set"]["unread"] = 0
    # An update, then a read (not `find_one_and_update`, see `_find_or_create`): the document read is the
    # conversation as this message left it, or newer.
    await _conversation_updates.update_one(
        {"_id": message.conversation_id, "applied_ids": {"$ne": message.id}}, update
    )
    doc = await _conversation_by_id.find_one(message.conversation_id)
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
