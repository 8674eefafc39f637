"""Agent replies: store as queued, publish, enqueue the send."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain import mms_limits
from hub.domain.messages import Direction, MessageStatus
from hub.domain.mms_limits import MmsLimits
from hub.domain.numbers import NumberType
from hub.domain.search import text_keys
from hub.domain.segments import count_segments
from hub.jobs.spec import QueueUnavailable
from hub.services import usage
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.media import keep_within, uploads_within
from hub.services.suspension import check_may_send, refusal
from hub.services.threads import finish_message
from hub.store.accounts import utcnow
from hub.store.audience import CampaignRecipient, Suppression
from hub.store.conversations import Conversation
from hub.store.messages import Message, MessageAuthor, StatusEntry, StoredMedia
from hub.store.numbers import Number
from hub.store.sequences import next_seq

log = logging.getLogger(__name__)

MAX_SEGMENTS = 10
MAX_CLIENT_ID = 100


@dataclass(frozen=True)
class Author:
    kind: str
    id: PydanticObjectId | None
    name: str | None


async def get_conversation(account_id: PydanticObjectId, conversation_id: str) -> Conversation:
    if not PydanticObjectId.is_valid(conversation_id):
        raise NotFound("no such conversation", field="conversation_id")
    conv = await Conversation.find_one({"_id": PydanticObjectId(conversation_id), "account_id": account_id})
    if conv is None:
        raise NotFound("no such conversation", field="conversation_id")
    return conv


def _owner(conv: Conversation) -> dict[str, str]:
    """Whose an uploaded attachment is: the account's, for this conversation only."""
    return {"account_id": str(conv.account_id), "conversation_id": str(conv.id)}


async def conversation_mms_limits(hub: HubContext, conv: Conversation) -> MmsLimits | None:
    """What the conversation's number can send as MMS (None: its gateway sends no MMS)."""
    number = await Number.get(conv.number_id)
    if number is None:
        return None
    media = hub.settings.media
    return mms_limits.limits_for(number.provider, media.max_bytes, media.max_parts)


async def upload_attachment(
    hub: HubContext,
    account_id: PydanticObjectId,
    conversation_id: str,
    data: bytes,
    declared_type: str | None,
    filename: str | None,
) -> StoredMedia:
    """Keep a file for a reply in the conversation, once its number's gateway could send it.

    Raises:
        NotFound: no such conversation.
        Conflict: the number's gateway sends no MMS (nothing is stored).
        Invalid: too large, or of a type the gateway does not send.
    """
    conv = await get_conversation(account_id, conversation_id)
    limits = await conversation_mms_limits(hub, conv)
    if limits is None:
        raise Conflict(mms_limits.NO_MMS, field="conversation_id")
    return await keep_within(hub.media, limits, data, declared_type, filename, _owner(conv))


async def _attachments(hub: HubContext, conv: Conversation, media_ids: list[str]) -> list[StoredMedia]:
    """The uploaded files a reply attaches, once its number's gateway can send them all.

    Raises:
        Conflict: the gateway sends no MMS.
        Invalid: an unknown file (or another conversation's), too many, too large, a wrong type.
    """
    if not media_ids:
        return []
    limits = await conversation_mms_limits(hub, conv)
    if limits is None:
        raise Conflict(mms_limits.NO_MMS, field="media")
    return await uploads_within(
        hub.media, media_ids, _owner(conv), limits, missing="no uploaded attachment in this conversation:"
    )


async def send_reply(
    hub: HubContext,
    account_id: PydanticObjectId,
    conversation_id: str,
    text: str,
    author: Author,
    client_id: str | None = None,
    media_ids: list[str] | None = None,
) -> Message:
    """Queue a reply in a conversation: text, attachments uploaded for it (an MMS), or both.

    `client_id` makes the call idempotent: the same id from the same account returns the message
    stored the first time.
    """
    media_ids = media_ids or []
    if not text.strip() and not media_ids:
        raise Invalid("text must not be empty", field="text")
    seg = count_segments(text)
    if seg.segments > MAX_SEGMENTS:
        raise Invalid(
            f"text needs {seg.segments} SMS segments; at most {MAX_SEGMENTS} are sent", field="text"
        )
    if client_id is not None and not (0 < len(client_id) <= MAX_CLIENT_ID):
        raise Invalid(f"client_id must be 1 to {MAX_CLIENT_ID} characters", field="client_id")
    conv = await get_conversation(account_id, conversation_id)
    if client_id is not None:
        # client_id first: SecantusDB picks the index of the first field that leads one, and
        # account_id would lead it to every message of the account.
        existing = await Message.find_one({"client_id": client_id, "account_id": account_id})
        if existing is not None:
            if existing.conversation_id != conv.id:
                raise Conflict(
                    "client_id was already used for a message in another conversation", field="client_id"
                )
            return await finish_reply(hub, existing)
    if await is_suppressed(conv.contact_phone, conv.number, account_id):
        raise Conflict(
            f"{conv.contact_phone} opted out of or is blocked from messages from {conv.number}",
            field="conversation_id",
        )
    media = await _attachments(hub, conv, media_ids)
    return await _queue(hub, conv, text, author, client_id, media=media)


async def is_suppressed(phone: str, number: str, account_id: PydanticObjectId | None) -> bool:
    """Whether `phone` opted out of, or is blocked from, messages from `number` of `account_id`."""
    return bool(await Suppression.stopping_send(phone, number, account_id))


@dataclass(frozen=True)
class CampaignTag:
    """The campaign an outbound message belongs to, as its message and conversation carry it."""

    id: str
    name: str


async def _queue(
    hub: HubContext,
    conv: Conversation,
    text: str,
    author: Author,
    client_id: str | None,
    *,
    media: list[StoredMedia] | None = None,
    campaign: CampaignTag | None = None,
    message_id: PydanticObjectId | None = None,
) -> Message:
    account_id = conv.account_id
    await check_may_send(account_id, "conversation_id")
    number = await Number.get(conv.number_id)
    if number is None:
        raise NotFound("the conversation's number no longer exists", field="conversation_id")
    if number.account_id not in (None, account_id):
        # The operator moved the number to another account: its past conversations stay here, but
        # nothing more goes out from it in this account's name.
        raise Conflict(f"the number {number.e164} now belongs to another account", field="conversation_id")
    assert conv.id is not None
    seg = count_segments(text)
    now = utcnow()
    message = Message(
        account_id=account_id,
        conversation_id=conv.id,
        direction=Direction.OUTBOUND,
        sender=conv.number,
        recipient=conv.contact_phone,
        text=text,
        search_keys=text_keys(text),
        media=media or [],
        provider=number.provider,
        client_id=client_id,
        status=MessageStatus.QUEUED,
        status_history=[StatusEntry(status=MessageStatus.QUEUED, at=now)],
        author=MessageAuthor(kind=author.kind, id=author.id, name=author.name),
        segments=seg.segments,
        encoding=seg.encoding,
        campaign_id=campaign.id if campaign else None,
        campaign_name=campaign.name if campaign else None,
        seq=await next_seq(account_id),
        created_at=now,
    )
    message.id = message_id or PydanticObjectId()
    # Units are taken before the message is stored: over a limit, nothing is stored or sent
    # (`usage.UsageRefused`, 409); the send job bills the reservation or gives it back.
    charge = usage.charge_for_message(message, hub.settings.usage.mms_units)
    await usage.reserve(charge)
    try:
        await message.insert()
    except DuplicateKeyError:
        await usage.release(charge.key)
        stored = await Message.find_one({"client_id": client_id, "account_id": account_id})
        assert stored is not None
        return await finish_reply(hub, stored)
    return await finish_reply(hub, message)


async def send_automatic(hub: HubContext, inbound: Message, text: str, name: str, key: str) -> bool:
    """Queue an automatic reply to an inbound message in its conversation, once per `key`.

    Returns False when nothing was queued: the contact may not be sent anything. Raises
    `usage.UsageRefused` when the account's limits do not allow it (routing records it as withheld).
    """
    existing = await Message.find_one({"client_id": key, "account_id": inbound.account_id})
    if existing is not None:
        await finish_reply(hub, existing)
        return True
    conv = await Conversation.get(inbound.conversation_id)
    if conv is None or await is_suppressed(conv.contact_phone, conv.number, conv.account_id):
        return False
    if await refusal(conv.account_id) is not None:
        return False
    await _queue(hub, conv, text, Author(kind="auto", id=None, name=name), key)
    return True


async def finish_reply(hub: HubContext, message: Message) -> Message:
    """Publish a stored reply and hand it to the sender; a retry redoes whatever is missing."""
    await finish_message(hub.bus, message)
    if message.status == MessageStatus.QUEUED:
        # The job key makes a second enqueue of a job still queued a no-op, and the job itself
        # sends only a message that nobody has claimed.
        try:
            await hub.jobs.enqueue("send_message", key=f"send:{message.id}", message_id=str(message.id))
        except QueueUnavailable as exc:
            # Stored, so not lost: the worker sweeps queued replies when Redis is back
            # (`workers.run.enqueue_sweeps_after_outage`); the reply shows as queued until then.
            log.warning("reply %s stays queued until the job queue is back: %s", message.id, exc)
    return message


async def bind_recipient(
    number: str,
    recipient: str,
    account_id: PydanticObjectId,
    campaign_id: str,
    conversation_id: PydanticObjectId,
) -> None:
    """Route replies from `recipient` to the 2WAY virtual `number` to this campaign: stored before
    the message is queued, so a reply can never arrive before the hub knows whose it is."""
    await CampaignRecipient.get_pymongo_collection().update_one(
        {"number": number, "phone": recipient},
        {
            "$set": {
                "account_id": account_id,
                "campaign_id": campaign_id,
                "conversation_id": conversation_id,
                "sent_at": utcnow(),
            },
            "$setOnInsert": {"message_id": None},
        },
        upsert=True,
    )


async def existing_campaign_message(account_id: PydanticObjectId, key: str) -> Message | None:
    """The message an earlier attempt stored under `key`, published and handed to the sender again."""
    return await Message.find_one({"client_id": key, "account_id": account_id})


async def queue_campaign_message(
    hub: HubContext,
    account_id: PydanticObjectId,
    number: Number,
    recipient: str,
    text: str,
    campaign: CampaignTag,
    key: str,
    message_id: PydanticObjectId | None = None,
    media: list[StoredMedia] | None = None,
) -> Message:
    """Queue one campaign message from `number` (the account's, or a 2WAY/ECO+ virtual one) in the
    recipient's conversation on it, once per `key`.

    The caller has checked opt-outs and blocks. Raises `usage.UsageRefused` over the account's
    limits and Conflict when the account is suspended; nothing is queued then.
    """
    from hub.services.threads import upsert_contact, upsert_conversation

    existing = await existing_campaign_message(account_id, key)
    if existing is not None:
        return await finish_reply(hub, existing)
    await check_may_send(account_id)
    contact = await upsert_contact(account_id, recipient)
    conv = await upsert_conversation(account_id, number, contact)
    assert conv.id is not None
    if number.type is NumberType.TWO_WAY and not number.eco_plus:
        await bind_recipient(number.e164, recipient, account_id, campaign.id, conv.id)
    # The conversation shows the latest campaign that reached it (the inbox links to it).
    await Conversation.get_pymongo_collection().update_one(
        {"_id": conv.id}, {"$set": {"campaign": {"id": campaign.id, "name": campaign.name}}}
    )
    message = await _queue(
        hub,
        conv,
        text,
        Author(kind="system", id=None, name=f"Campaign {campaign.name}"),
        key,
        media=media,
        campaign=campaign,
        message_id=message_id,
    )
    if number.type is NumberType.TWO_WAY and not number.eco_plus:
        await CampaignRecipient.get_pymongo_collection().update_one(
            {"number": number.e164, "phone": recipient, "campaign_id": campaign.id},
            {"$set": {"message_id": message.id}},
        )
    return message


async def send_campaign_message(
    hub: HubContext, account_id: PydanticObjectId, number: Number, recipient: str, text: str, campaign_id: str
) -> Message:
    """Send a campaign message from a 2WAY virtual number and remember where replies belong.

    The binding (virtual number, recipient) → campaign is stored before the message is queued, so
    a reply can never arrive before the hub knows whose it is.
    """
    from hub.services.threads import upsert_contact, upsert_conversation

    if not text.strip():
        raise Invalid("text must not be empty", field="text")
    await check_may_send(account_id)
    if await is_suppressed(recipient, number.e164, account_id):
        raise Conflict(f"{recipient} opted out of this account's messages", field="to")
    # Before the binding is stored: a send over the account's limits leaves nothing behind.
    await usage.check_affordable(account_id, count_segments(text).segments)
    contact = await upsert_contact(account_id, recipient)
    conv = await upsert_conversation(account_id, number, contact)
    assert conv.id is not None
    message_key = f"campaign:{campaign_id}:{number.e164}:{recipient}"
    await bind_recipient(number.e164, recipient, account_id, campaign_id, conv.id)
    message = await _queue(
        hub,
        conv,
        text,
        Author(kind="system", id=None, name=f"Campaign {campaign_id}"),
        message_key,
        campaign=CampaignTag(campaign_id, campaign_id),
    )
    await CampaignRecipient.get_pymongo_collection().update_one(
        {"number": number.e164, "phone": recipient}, {"$set": {"message_id": message.id}}
    )
    return message
