"""Receiving a message: store, then publish, then enqueue."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain.messages import Direction, InboundMessage, MessageStatus
from hub.domain.phones import InvalidPhoneNumber, is_short_code, to_e164
from hub.domain.segments import count_segments
from hub.services.errors import Invalid, NotFound
from hub.services.forwarding import forward, rules_for_message
from hub.services.threads import finish_message, upsert_contact, upsert_conversation
from hub.store.messages import Message, MessageAuthor, StatusEntry, StoredMedia
from hub.store.numbers import Number
from hub.store.sequences import next_seq

MAX_TEXT = 10_000


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool
    """False when the provider message id was seen before (a retried webhook)."""


def normalise_number(raw: str, field: str) -> str:
    raw = raw.strip()
    digits = raw.lstrip("+")
    if digits.isdigit() and is_short_code(digits):
        return digits
    try:
        return to_e164(raw)
    except InvalidPhoneNumber as exc:
        raise Invalid(f"{field} is not a valid phone number: {raw!r}", field=field) from exc


async def find_number(recipient: str) -> Number:
    number = await Number.find_one({"e164": recipient})
    if number is None:
        raise NotFound(f"no number {recipient} is configured on this hub", field="to")
    return number


async def receive(
    hub: HubContext, msg: InboundMessage, media_auth: tuple[str, str] | None = None
) -> Received:
    """Store an inbound message and push it to the account's panels.

    Returns once the message is in MongoDB; a repeated provider message id returns the stored
    message (finishing its publication if an earlier attempt was cut off).
    """
    if len(msg.text) > MAX_TEXT:
        raise Invalid(f"text is longer than {MAX_TEXT} characters", field="text")
    sender = normalise_number(msg.sender, "from")
    recipient = normalise_number(msg.recipient, "to")
    number = await find_number(recipient)

    existing = await Message.find_one(
        {"provider": msg.provider, "provider_message_id": msg.provider_message_id}
    )
    if existing is not None:
        await finish_message(hub.bus, existing)
        return Received(existing, created=False)

    media = await hub.media.ingest(msg.media, media_auth)
    try:
        message = await _store(number, sender, recipient, msg, media)
    except DuplicateKeyError:
        # A concurrent delivery of the same webhook stored it first. Its sequence number stays
        # unused: a hole that clients skip.
        await hub.media.delete(media)
        stored = await Message.find_one(
            {"provider": msg.provider, "provider_message_id": msg.provider_message_id}
        )
        assert stored is not None
        await finish_message(hub.bus, stored)
        return Received(stored, created=False)
    except BaseException:
        # Nothing half-stored: the gateway's retry uploads the attachments again.
        await hub.media.delete(media)
        raise
    await finish_message(hub.bus, message)
    await forward(hub, message, [str(r.id) for r in await rules_for_message(number.account_id, number.id)])
    return Received(message, created=True)


async def _store(
    number: Number, sender: str, recipient: str, msg: InboundMessage, media: list[StoredMedia]
) -> Message:
    contact = await upsert_contact(number.account_id, sender)
    conv = await upsert_conversation(number, contact)
    seg = count_segments(msg.text)
    assert number.id is not None and contact.id is not None and conv.id is not None
    message = Message(
        account_id=number.account_id,
        conversation_id=conv.id,
        direction=Direction.INBOUND,
        sender=sender,
        recipient=recipient,
        text=msg.text,
        media=media,
        provider=msg.provider,
        provider_message_id=msg.provider_message_id,
        status=MessageStatus.RECEIVED,
        status_history=[StatusEntry(status=MessageStatus.RECEIVED, at=msg.received_at)],
        author=MessageAuthor(kind="contact", id=contact.id, name=contact.name),
        segments=max(seg.segments, 1),
        encoding=seg.encoding,
        # Taken last, just before the insert, to keep the time between taking a number and
        # recording its event short.
        seq=await next_seq(number.account_id),
        created_at=msg.received_at,
    )
    await message.insert()
    return message
