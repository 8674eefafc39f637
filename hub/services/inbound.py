"""Receiving a message: store, then publish, then enqueue."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from beanie import PydanticObjectId
from beanie.odm.utils.dump import get_dict
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain.messages import Direction, InboundMessage, MessageStatus
from hub.domain.numbers import NumberType
from hub.domain.phones import InvalidPhoneNumber, is_short_code, to_e164
from hub.domain.routing import AssignToAccount, CountKeyword, Decision, OptIn, OptOut, SendHelp
from hub.domain.search import text_keys
from hub.domain.segments import count_segments
from hub.metrics import INBOUND_STORED
from hub.services import campaign_progress, capacity, displays, routing, usage
from hub.services.errors import Invalid, NotFound
from hub.services.forwarding import forward
from hub.services.threads import finish_message, upsert_contact, upsert_conversation
from hub.store import from_doc
from hub.store.audience import UnmatchedMessage
from hub.store.conversations import Contact, Conversation
from hub.store.grouped import Finds, Inserts, Updates
from hub.store.messages import KeywordRef, Message, MessageAuthor, RoutingRecord, StatusEntry, StoredMedia
from hub.store.numbers import Number
from hub.store.sequences import next_seq

log = logging.getLogger(__name__)

MAX_TEXT = 10_000

# Concurrent webhooks share their round trips for these steps (hub.store.grouped).
_by_provider_id = Finds(Message.get_pymongo_collection, ("provider", "provider_message_id"))
_message_inserts = Inserts(Message.get_pymongo_collection)
_message_updates = Updates(Message.get_pymongo_collection)


@dataclass(frozen=True)
class Received:
    message: Message | None
    """The stored message; None when it reached no account (see `unmatched`)."""
    created: bool
    """False when the provider message id was seen before (a retried webhook)."""
    unmatched: UnmatchedMessage | None = None

    @property
    def record_id(self) -> str:
        record = self.message if self.message is not None else self.unmatched
        assert record is not None, "a received message is stored either for an account or as unmatched"
        return str(record.id)


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
    number = await routing.configured_number(recipient)
    if number is None:
        raise NotFound(f"no number {recipient} is configured on this hub", field="to")
    return number


async def receive(
    hub: HubContext, msg: InboundMessage, media_auth: tuple[str, str] | None = None
) -> Received:
    """Route an inbound message, store it, push it to the account's panels, apply what it sets off.

    Returns once the message and its consequences are in MongoDB; a repeated provider message id
    returns the stored message, finishing whatever an earlier attempt left undone.
    """
    if len(msg.text) > MAX_TEXT:
        raise Invalid(f"text is longer than {MAX_TEXT} characters", field="text")
    sender = normalise_number(msg.sender, "from")
    recipient = normalise_number(msg.recipient, "to")
    number = await find_number(recipient)
    key = {"provider": msg.provider, "provider_message_id": msg.provider_message_id}

    found = await _by_provider_id.find_one(msg.provider, msg.provider_message_id)
    if found is not None:
        existing = from_doc(Message, found)
        await _finish(hub, number, existing)
        return Received(existing, created=False)
    # Only a shared or 2WAY number's message can reach no account (an individual one always does).
    lost = await UnmatchedMessage.find_one(key) if number.account_id is None else None
    if lost is not None:
        await _finish_unmatched(hub, number, lost)
        return Received(None, created=False, unmatched=lost)

    prepared = await routing.prepare(number, sender)
    decision = routing.decide(prepared, sender, recipient, msg.text, msg.received_at)
    assign = next((a for a in decision.actions if isinstance(a, AssignToAccount)), None)
    if assign is None:
        return await _receive_unmatched(hub, number, sender, msg, decision)
    decision = await usage.withhold_over_limit(PydanticObjectId(assign.account_id), decision)

    link = await _campaign_link(number, assign, sender, msg)
    media = await hub.media.ingest(msg.media, media_auth)
    try:
        message = await _store(
            number, assign, sender, recipient, msg, media, decision, prepared.contact.first_message, link
        )
    except DuplicateKeyError:
        # A concurrent delivery of the same webhook stored it first. Its sequence number stays
        # unused: a hole that clients skip.
        await hub.media.delete(media)
        winner = await _by_provider_id.find_one(msg.provider, msg.provider_message_id)
        assert winner is not None
        stored = from_doc(Message, winner)
        await _finish(hub, number, stored)
        return Received(stored, created=False)
    except BaseException:
        # Nothing half-stored: the gateway's retry uploads the attachments again.
        await _discard_unless_stored(hub, msg, media)
        raise
    await _finish(hub, number, message)
    INBOUND_STORED.labels(msg.provider, "matched").inc()
    return Received(message, created=True)


async def _campaign_link(
    number: Number, assign: AssignToAccount, sender: str, msg: InboundMessage
) -> tuple[str, str] | None:
    """The campaign a text answers: the 2WAY binding's or the ECO+ guess's (routing found it), or,
    on an individual number, the campaign whose message reached the sender from it last (within
    the reply window)."""
    campaign_id = assign.campaign_id
    if campaign_id is None and number.type in (NumberType.NDI, NumberType.SCI, NumberType.OWN):
        campaign_id = await campaign_progress.campaign_of_reply(
            number.e164, sender, assign.account_id, msg.received_at
        )
    if campaign_id is None:
        return None
    return campaign_id, await campaign_progress.campaign_name(campaign_id) or campaign_id


async def _discard_unless_stored(hub: HubContext, msg: InboundMessage, media: list[StoredMedia]) -> None:
    """Delete a failed attempt's attachments, unless its message was stored after all.

    An insert can land and still fail its caller (the answer lost on the way back, the request
    cancelled while its batch was in flight). When that cannot be told, the files stay: an
    orphaned file costs space, a deleted attachment breaks a stored message.
    """
    if not media:
        return
    try:
        stored = await _by_provider_id.find_one(msg.provider, msg.provider_message_id)
    except Exception:
        log.warning("kept the attachments of %s: not known whether it was stored", msg.provider_message_id)
        return
    if stored is None:
        await hub.media.delete(media)


async def _finish(hub: HubContext, number: Number, message: Message) -> None:
    """Publish a stored message, then apply its routing decision once; safe to repeat."""
    conv = await finish_message(hub.bus, message)
    await campaign_progress.on_reply(hub, message)
    if message.direction == Direction.INBOUND:
        await capacity.on_inbound(hub, conv)
    record = message.routing
    if record is not None and not record.applied:
        await routing.count_message(number.e164, message.sender)
        forward_ids = await routing.apply(
            hub,
            routing.decode_actions(record.actions),
            number=number,
            sender=message.sender,
            message=message,
            now=message.created_at,
        )
        # Deliveries are unique per (rule, message): forwarding again after an interruption is a no-op.
        await forward(hub, message, forward_ids)
        await _message_updates.update_one({"_id": message.id}, {"$set": {"routing.applied": True}})
        record.applied = True
    # After routing (a survey answer is counted first); on every retry, since it is idempotent.
    if await routing.has_screens(message.recipient):
        await displays.on_inbound(hub, message)


async def _receive_unmatched(
    hub: HubContext, number: Number, sender: str, msg: InboundMessage, decision: Decision
) -> Received:
    word = next((type(a).__name__ for a in decision.actions if isinstance(a, OptOut | OptIn)), None)
    reason = "no_binding" if number.type is NumberType.TWO_WAY else "no_keyword"
    if word is not None:
        reason = "opt_out" if word == "OptOut" else "opt_in"
    elif any(isinstance(a, SendHelp) for a in decision.actions):
        reason = "help"
    lost = UnmatchedMessage(
        number=number.e164,
        sender=sender,
        text=msg.text,
        provider=msg.provider,
        provider_message_id=msg.provider_message_id,
        reason=reason,
        actions=routing.encode_actions(decision.actions),
        received_at=msg.received_at,
    )
    stored, created = await _keep_unmatched(lost)
    await _finish_unmatched(hub, number, stored)
    return Received(None, created=created, unmatched=stored)


async def _keep_unmatched(lost: UnmatchedMessage) -> tuple[UnmatchedMessage, bool]:
    """Insert `lost`, or find the one a concurrent or earlier delivery of the same text stored;
    whether this call stored it."""
    try:
        await lost.insert()
    except DuplicateKeyError:
        stored = await UnmatchedMessage.find_one(
            {"provider": lost.provider, "provider_message_id": lost.provider_message_id}
        )
        assert stored is not None
        return stored, False
    INBOUND_STORED.labels(lost.provider, "unmatched").inc()
    return lost, True


async def _finish_unmatched(hub: HubContext, number: Number, lost: UnmatchedMessage) -> None:
    if lost.applied:
        return
    await routing.count_message(number.e164, lost.sender)
    await routing.apply(
        hub,
        routing.decode_actions(lost.actions),
        number=number,
        sender=lost.sender,
        unmatched=lost,
        now=lost.received_at,
    )
    await UnmatchedMessage.get_pymongo_collection().update_one({"_id": lost.id}, {"$set": {"applied": True}})
    lost.applied = True


async def _conversation(number: Number, assign: AssignToAccount, sender: str) -> tuple[Contact, Conversation]:
    account_id = PydanticObjectId(assign.account_id)
    contact = await upsert_contact(account_id, sender)
    if assign.conversation_id is not None:
        conv = await Conversation.get(PydanticObjectId(assign.conversation_id))
        if conv is not None and conv.account_id == account_id:
            return contact, conv
    return contact, await upsert_conversation(account_id, number, contact)


async def _store(
    number: Number,
    assign: AssignToAccount,
    sender: str,
    recipient: str,
    msg: InboundMessage,
    media: list[StoredMedia],
    decision: Decision,
    first_message: bool,
    link: tuple[str, str] | None = None,
) -> Message:
    contact, conv = await _conversation(number, assign, sender)
    seg = count_segments(msg.text)
    assert contact.id is not None and conv.id is not None
    match = decision.keyword
    message = Message(
        account_id=conv.account_id,
        conversation_id=conv.id,
        direction=Direction.INBOUND,
        sender=sender,
        recipient=recipient,
        text=msg.text,
        search_keys=text_keys(msg.text),
        media=media,
        provider=msg.provider,
        provider_message_id=msg.provider_message_id,
        status=MessageStatus.RECEIVED,
        status_history=[StatusEntry(status=MessageStatus.RECEIVED, at=msg.received_at)],
        author=MessageAuthor(kind="contact", id=contact.id, name=contact.name),
        segments=max(seg.segments, 1),
        encoding=seg.encoding,
        keyword=(
            KeywordRef(
                id=match.keyword.id.removesuffix("#remove"),
                text=match.keyword.text,
                kind=match.keyword.kind.value,
                param=match.param,
                counted=any(isinstance(a, CountKeyword) for a in decision.actions),
            )
            if match is not None
            else None
        ),
        campaign_id=link[0] if link else None,
        campaign_name=link[1] if link else None,
        routing=RoutingRecord(
            actions=routing.encode_actions(decision.actions),
            best_effort=decision.best_effort,
            word=decision.word,
            withheld=routing.encode_withheld(decision.withheld),
            # Nothing left to do after storing (most messages of returning senders): stored as
            # applied, which saves the two updates of applying it.
            applied=not first_message and not routing.has_effects(decision.actions),
        ),
        # Taken last, just before the insert, to keep the time between taking a number and
        # recording its event short.
        seq=await next_seq(conv.account_id),
        created_at=msg.received_at,
    )
    message.id = PydanticObjectId()
    await _message_inserts.insert(get_dict(message, to_db=True, keep_nulls=Message.get_settings().keep_nulls))
    return message


async def keep_unroutable(msg: InboundMessage, reason: str) -> Received:
    """Keep for the operator a text that was accepted but can no longer be routed (its number was
    removed between the two): acknowledged to the gateway, so it must not vanish. Safe to repeat."""
    lost = UnmatchedMessage(
        number=msg.recipient,
        sender=msg.sender,
        text=msg.text,
        provider=msg.provider,
        provider_message_id=msg.provider_message_id,
        reason=reason,
        applied=True,
        received_at=msg.received_at,
    )
    stored, created = await _keep_unmatched(lost)
    if created:
        log.warning("%s %s kept unmatched: %s", msg.provider, msg.provider_message_id, reason)
    return Received(None, created=created, unmatched=stored)
