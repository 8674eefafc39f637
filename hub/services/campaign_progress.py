"""A campaign's counts as its messages move (delivery reports, replies, opt-outs), and the live
`campaign.progress` event.

The event is coalesced per campaign: a change schedules one publish, at most every `INTERVAL_S`,
which reads the campaign when it runs; changes before that read are in it, and a change after it
schedules the next one, so the last event always carries the latest state.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import events as ev
from hub.domain.campaign_senders import binding_live
from hub.domain.messages import Direction, MessageStatus
from hub.realtime.bus import now_iso
from hub.realtime.payloads import iso
from hub.store.campaigns import Campaign, CampaignTarget, count, move_target, targets
from hub.store.messages import Message
from hub.store.sequences import next_seq

log = logging.getLogger(__name__)

INTERVAL_S = 0.25
_TARGET_STATUS = {
    MessageStatus.SENDING: "sent",
    MessageStatus.SENT: "sent",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.UNDELIVERED: "failed",
    MessageStatus.FAILED: "failed",
}
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 2, "skipped": 2}


class _Coalesced:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._last: dict[str, float] = {}

    def schedule(self, hub: HubContext, account_id: PydanticObjectId, campaign_id: str) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._pending, self._last = loop, {}, {}
        if campaign_id in self._pending:
            return
        wait = max(0.0, self._last.get(campaign_id, 0.0) + INTERVAL_S - loop.time())
        self._pending[campaign_id] = loop.create_task(self._run(hub, account_id, campaign_id, wait))

    async def _run(
        self, hub: HubContext, account_id: PydanticObjectId, campaign_id: str, wait: float
    ) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
        finally:
            # Cleared before the read: a change from here on schedules another publish.
            self._pending.pop(campaign_id, None)
        assert self._loop is not None
        self._last[campaign_id] = self._loop.time()
        try:
            await publish_now(hub, account_id, campaign_id)
        except Exception:
            log.exception("campaign.progress for %s not published", campaign_id)

    async def flush(self) -> None:
        while self._pending and self._loop is asyncio.get_running_loop():
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)


_events = _Coalesced()


async def publish(hub: HubContext, account_id: PydanticObjectId, campaign_id: str) -> None:
    """Publish the campaign's progress soon (coalesced); returns at once."""
    _events.schedule(hub, account_id, campaign_id)


async def flush() -> None:
    """Wait for the progress events scheduled so far (a job about to end, tests)."""
    await _events.flush()


def progress_payload(campaign: Campaign) -> ev.CampaignProgressPayload:
    c = campaign.counts
    return ev.CampaignProgressPayload(
        campaign_id=str(campaign.id),
        status=campaign.status,  # type: ignore[arg-type]
        counts=ev.CampaignCounts(**{k: int(c.get(k, 0)) for k in ev.CampaignCounts.__struct_fields__}),
        next_send_at=iso(campaign.next_send_at) if campaign.next_send_at else None,
    )


async def publish_now(hub: HubContext, account_id: PydanticObjectId, campaign_id: str) -> None:
    campaign = await Campaign.get(PydanticObjectId(campaign_id))
    if campaign is None:
        return
    seq = await next_seq(account_id)
    await hub.bus.record(
        ev.CampaignProgress(
            seq=seq, account_id=str(account_id), at=now_iso(), data=progress_payload(campaign)
        )
    )


def _campaign_oid(message: Message) -> PydanticObjectId | None:
    cid = message.campaign_id
    return PydanticObjectId(cid) if cid and PydanticObjectId.is_valid(cid) else None


async def on_status(hub: HubContext, message: Message, at: datetime) -> None:
    """An outbound campaign message changed status: its recipient and the counts follow."""
    if message.direction != Direction.OUTBOUND or _campaign_oid(message) is None:
        return
    new = _TARGET_STATUS.get(message.status)
    if new is None:
        return
    target = await CampaignTarget.find_one({"message_id": message.id})
    if target is None:
        return
    fields: dict[str, object] = {}
    if new == "sent":
        fields["sent_at"] = at
    elif new == "delivered":
        fields["delivered_at"] = at
    else:
        fields["reason"] = message.status_history[-1].detail if message.status_history else None
    for _ in range(3):
        if _RANK[new] <= _RANK[target.status]:
            return
        if await move_target(target.id, target.campaign_id, target.status, new, fields):
            await publish(hub, target.account_id, str(target.campaign_id))
            return
        reloaded = await CampaignTarget.get(target.id)
        if reloaded is None:
            return
        target = reloaded


async def on_reply(hub: HubContext, message: Message) -> None:
    """A reply linked to a campaign: its recipient replied (the first reply counts), and an opt-out
    word counts in opted_out. Safe to repeat."""
    campaign_id = _campaign_oid(message)
    if message.direction != Direction.INBOUND or campaign_id is None:
        return
    coll = targets()
    first = await coll.update_one(
        {"phone": message.sender, "campaign_id": campaign_id, "replied_at": None},
        {"$set": {"replied_at": message.created_at, "reply_text": message.text[:500]}},
    )
    changes = {"replied": first.modified_count}
    if message.routing is not None and message.routing.word == "opt_out":
        opted = await coll.update_one(
            {"phone": message.sender, "campaign_id": campaign_id, "opted_out": False},
            {"$set": {"opted_out": True}},
        )
        changes["opted_out"] = opted.modified_count
    if any(changes.values()):
        await count(campaign_id, changes)
        await publish(hub, message.account_id, str(campaign_id))


async def campaign_of_reply(number: str, phone: str, account_id: str, now: datetime) -> str | None:
    """For a text to an individual number: the campaign whose message reached `phone` from it last,
    if within the reply window."""
    doc = await targets().find_one(
        {"phone": phone, "sender": number},
        {"campaign_id": 1, "account_id": 1, "handed_at": 1},
        sort=[("handed_at", -1)],
    )
    if doc is None or doc.get("handed_at") is None or str(doc["account_id"]) != account_id:
        return None
    if not binding_live(doc["handed_at"], now):
        return None
    return str(doc["campaign_id"])


async def campaign_name(campaign_id: str | None) -> str | None:
    if not campaign_id or not PydanticObjectId.is_valid(campaign_id):
        return None
    doc = await Campaign.get_pymongo_collection().find_one(
        {"_id": PydanticObjectId(campaign_id)}, {"name": 1}
    )
    return str(doc["name"]) if doc else None
