"""Forwarding: which rules apply to a message, and the deliveries they make, handed to the job queue.

Rules themselves are managed in services.forward_rules. A delivery is created once per (rule,
message, event) — a unique index — and its id is the delivery id a receiver de-duplicates by, the
same on every retry. The job `forward_delivery` (workers/forward.py) makes the attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain.forwarding import EVENT_RECEIVED, EVENT_STATUS_PREFIX
from hub.domain.messages import Direction, MessageStatus
from hub.realtime.payloads import iso, media_url
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.forward_rules import object_id
from hub.store import from_doc, update_then_read
from hub.store.accounts import utcnow
from hub.store.audience import Suppression, SuppressionKind
from hub.store.forwarding import DeliveryStatus, ForwardDelivery, ForwardRule
from hub.store.messages import Message
from hub.store.numbers import Number

log = logging.getLogger(__name__)

REPLAY_ALL_LIMIT = 1000


async def rules_for_message(
    account_id: PydanticObjectId, number_id: PydanticObjectId | None
) -> list[ForwardRule]:
    """The active rules that forward every message of this number (keyword rules are routing's)."""
    return await ForwardRule.find(
        {
            "account_id": account_id,
            "active": True,
            "keyword_id": None,
            "number_id": {"$in": [None, number_id]},
        }
    ).to_list()


async def send_refusal(phone: str, number: str, account_id: PydanticObjectId | None) -> str | None:
    """Why a forwarded SMS may not go to `phone` from `number` of `account_id`, or None when it may.

    The same suppressions as for every reply (`Suppression.stopping_send`): the phone opted out of
    the number or of the account, or is blocked by the account or (shared number) the operator.
    """
    found = await Suppression.stopping_send(phone, number, account_id)
    if any(s.kind is SuppressionKind.BLOCK for s in found):
        return f"refused: {phone} is blocked from messages from {number}"
    if found:
        return f"refused: {phone} opted out of messages from {number}"
    return None


# ---------------------------------------------------------------- deliveries


def _message_body(hub: HubContext, message: Message) -> dict[str, Any]:
    base = hub.settings.server.public_url
    return {
        "id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "direction": message.direction.value,
        "from": message.sender,
        "to": message.recipient,
        "text": message.text,
        "status": message.status.value,
        "segments": message.segments,
        "encoding": message.encoding,
        "created_at": iso(message.created_at),
        "media": [
            {"url": base + media_url(message, i), "mime": m.mime, "size": m.size, "filename": m.filename}
            for i, m in enumerate(message.media)
            if m.file_id is not None
        ],
    }


async def _delivery_for(hub: HubContext, rule: ForwardRule, message: Message, event: str) -> ForwardDelivery:
    assert rule.id is not None and message.id is not None
    existing = await ForwardDelivery.find_one({"rule_id": rule.id, "message_id": message.id, "event": event})
    if existing is not None:
        return existing
    delivery_id = PydanticObjectId()
    payload: dict[str, Any] = {
        "delivery_id": str(delivery_id),
        "event": event,
        "account_id": str(message.account_id),
        "message": _message_body(hub, message),
    }
    if event.startswith(EVENT_STATUS_PREFIX):
        last = message.status_history[-1] if message.status_history else None
        payload["status"] = {
            "status": message.status.value,
            "at": iso(last.at) if last else None,
            "detail": last.detail if last else None,
        }
    now = utcnow()
    delivery = ForwardDelivery(
        id=delivery_id,
        account_id=message.account_id,
        rule_id=rule.id,
        message_id=message.id,
        event=event,
        kind=rule.kind,
        target=rule.target,
        payload=payload,
        next_attempt_at=now,
        give_up_at=now + timedelta(seconds=hub.settings.forwarding.horizon_s),
        created_at=now,
    )
    try:
        await delivery.insert()
    except DuplicateKeyError:
        # Two callers forwarded the same message at once; the first one's delivery stands.
        stored = await ForwardDelivery.find_one(
            {"rule_id": rule.id, "message_id": message.id, "event": event}
        )
        assert stored is not None
        return stored
    return delivery


async def enqueue_attempt(
    hub: HubContext, delivery: ForwardDelivery, key_suffix: str, delay_s: float = 0.0
) -> None:
    """Queue an attempt. Keys differ per attempt: saq (and the local queue) drop an enqueue whose key is
    still queued or running, and the running attempt schedules the next one."""
    await hub.jobs.enqueue(
        "forward_delivery",
        key=f"fwd:{delivery.id}:{key_suffix}",
        delay_s=delay_s,
        delivery_id=str(delivery.id),
    )


async def _create_and_enqueue(hub: HubContext, rule: ForwardRule, message: Message, event: str) -> None:
    delivery = await _delivery_for(hub, rule, message, event)
    if delivery.status == DeliveryStatus.PENDING and delivery.attempt_count == 0:
        await enqueue_attempt(hub, delivery, "0")


async def forward(hub: HubContext, message: Message, rule_ids: Sequence[str]) -> None:
    """Forward a stored inbound message by the given rules; safe to call again for the same message."""
    for raw in dict.fromkeys(rule_ids):
        if not PydanticObjectId.is_valid(raw):
            log.warning("forward: %r is not a rule id", raw)
            continue
        rule = await ForwardRule.find_one(
            {"_id": PydanticObjectId(raw), "account_id": message.account_id, "active": True}
        )
        if rule is not None:
            await _create_and_enqueue(hub, rule, message, EVENT_RECEIVED)


async def forward_status(hub: HubContext, message: Message) -> None:
    """Forward a reply's new status to the rules that asked for delivery reports."""
    if message.direction != Direction.OUTBOUND:
        return
    rules = await ForwardRule.find(
        {
            "account_id": message.account_id,
            "active": True,
            "include_delivery_reports": True,
            "keyword_id": None,
        }
    ).to_list()
    if not rules:  # the common case costs one indexed query
        return
    if any(r.number_id is not None for r in rules):
        number = await Number.find_one({"e164": message.sender, "account_id": message.account_id})
        number_id = number.id if number else None
        rules = [r for r in rules if r.number_id in (None, number_id)]
    # Every status the message has reached, not only the newest: one whose forward was cut off
    # (a worker killed between storing the status and this call) is forwarded with the next.
    # Deliveries are unique per (rule, message, event), so the others are not forwarded twice.
    reached = [h.status for h in message.status_history if h.status is not MessageStatus.QUEUED]
    for rule in rules:
        for status in dict.fromkeys([*reached, message.status]):
            await _create_and_enqueue(hub, rule, message, EVENT_STATUS_PREFIX + status.value)


async def list_deliveries(
    account_id: PydanticObjectId,
    status: str | None = None,
    rule_id: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> list[ForwardDelivery]:
    query: dict[str, Any] = {"account_id": account_id}
    if status:
        try:
            query["status"] = DeliveryStatus(status).value
        except ValueError:
            raise Invalid("status must be pending, delivered, dead or refused", field="status") from None
    if rule_id:
        query["rule_id"] = object_id(rule_id, "rule_id")
    if before:
        query["_id"] = {"$lt": object_id(before, "before")}
    return await ForwardDelivery.find(query).sort("-_id").limit(limit).to_list()


async def get_delivery(account_id: PydanticObjectId, delivery_id: str) -> ForwardDelivery:
    oid = PydanticObjectId(delivery_id) if PydanticObjectId.is_valid(delivery_id) else None
    delivery = await ForwardDelivery.find_one({"_id": oid, "account_id": account_id}) if oid else None
    if delivery is None:
        raise NotFound("no such delivery", field="delivery_id")
    return delivery


async def _replay(hub: HubContext, delivery: ForwardDelivery) -> ForwardDelivery | None:
    now = utcnow()
    doc = await update_then_read(
        ForwardDelivery.get_pymongo_collection(),
        {"_id": delivery.id, "status": DeliveryStatus.DEAD.value},
        {
            "$set": {
                "status": DeliveryStatus.PENDING.value,
                "next_attempt_at": now,
                "give_up_at": now + timedelta(seconds=hub.settings.forwarding.horizon_s),
                "completed_at": None,
            },
            "$inc": {"replays": 1},
        },
    )
    if doc is None:
        return None
    replayed = from_doc(ForwardDelivery, doc)
    await enqueue_attempt(hub, replayed, f"r{replayed.replays}")
    return replayed


async def replay(hub: HubContext, account_id: PydanticObjectId, delivery_id: str) -> ForwardDelivery:
    """Give a dead-lettered delivery a new retry horizon, with the same delivery id and body."""
    delivery = await get_delivery(account_id, delivery_id)
    replayed = await _replay(hub, delivery)
    if replayed is None:
        raise Conflict(
            f"only dead deliveries can be replayed; this one is {delivery.status.value}", field="status"
        )
    return replayed


async def replay_dead(hub: HubContext, account_id: PydanticObjectId) -> int:
    """Replay every dead-lettered delivery of the account (oldest first, at most REPLAY_ALL_LIMIT)."""
    count = 0
    dead = ForwardDelivery.find({"account_id": account_id, "status": DeliveryStatus.DEAD.value})
    async for delivery in dead.sort("_id").limit(REPLAY_ALL_LIMIT):
        if await _replay(hub, delivery) is not None:
            count += 1
    return count


async def apply_forwarded_sms_report(provider: str, provider_message_id: str, status: str) -> bool:
    """Note a gateway's delivery report on the forwarded SMS it is about; False if it is not one."""
    result = await ForwardDelivery.get_pymongo_collection().update_one(
        {"provider": provider, "provider_message_id": provider_message_id},
        {"$set": {"handset_status": status}},
    )
    return result.matched_count > 0
