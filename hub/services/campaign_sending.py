"""Sending a campaign: one batch job after another on the job queue.

Each `campaign_batch` job takes up to one batch of the campaign's pending recipients (in build
order), checks the sending window, the account's limits and each recipient's opt-outs and blocks
again, queues each message once (`campaign:<id>:<phone>` as its client id, so a job killed
half-way and run again neither sends twice nor skips anyone), then enqueues the next batch after
the delay the rate asks for. docs/campaigns.md, "How sending works", tells the whole of it.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import campaign_text as tpl
from hub.domain.campaign_senders import binding_live, pick_number
from hub.domain.sending_window import SendingWindow
from hub.outbound.base import OutboundRequest, ProviderError
from hub.services import campaign_progress, usage
from hub.services.campaigns import drop_abandoned_builds, pool
from hub.services.campaigns import enqueue_batch as enqueue
from hub.services.errors import Conflict, ServiceError
from hub.services.outbound import CampaignTag, is_suppressed, queue_campaign_message
from hub.store.accounts import utcnow
from hub.store.audience import CampaignRecipient
from hub.store.campaigns import Campaign, CampaignTarget, campaigns, count, recount, targets
from hub.store.numbers import Number

log = logging.getLogger(__name__)

BATCH_MAX = 100
DEFAULT_RATE_PER_MINUTE = 600
"""Without a rate of its own and a gateway limit the hub knows, a campaign sends this many a minute."""
STALE_SENDING = timedelta(minutes=2)
LIVE_STATUSES = ("scheduled", "running", "waiting")
SUPPRESSED = "opted out or blocked since the audience was built"
RECOUNT_DONE = timedelta(days=2)
"""The sweep recounts campaigns finished this recently (their delivery reports may still come)."""
UNKNOWN_OUTCOME = "sending was interrupted; the gateway may have sent it"


def message_key(campaign_id: Any, phone: str) -> str:
    return f"campaign:{campaign_id}:{phone}"


def rate_per_minute(hub: HubContext, campaign: Campaign) -> int:
    """The campaign's rate, never above the gateway's throughput limit where the hub has one."""
    rate = campaign.schedule.rate_per_minute or DEFAULT_RATE_PER_MINUTE
    if campaign.sender.provider == "smpp" and hub.settings.smpp.throughput > 0:
        limit = hub.settings.smpp.throughput * max(1, hub.settings.smpp.binds) * 60
        rate = min(rate, max(1, int(limit)))
    return max(1, rate)


async def _advance(
    hub: HubContext, campaign: Campaign, batch: int, delay_s: float, cursor: int | None = None
) -> bool:
    """Hand over to the next batch job: one run of this batch wins the compare-and-set. `cursor`:
    the recipients before it are all handed (the next batch reads from there)."""
    update: dict[str, Any] = {"$inc": {"batch": 1}}
    if cursor is not None:
        update["$max"] = {"cursor": cursor}
    result = await campaigns().update_one({"_id": campaign.id, "batch": batch}, update)
    if result.modified_count != 1:
        return False
    await enqueue(hub, campaign.id, batch + 1, delay_s)
    return True


async def _set_status(
    hub: HubContext, campaign: Campaign, allowed: tuple[str, ...], changes: dict[str, Any]
) -> bool:
    result = await campaigns().update_one(
        {"_id": campaign.id, "status": {"$in": list(allowed)}}, {"$set": changes}
    )
    if result.modified_count == 1:
        await campaign_progress.publish(hub, campaign.account_id, str(campaign.id))
        return True
    return False


async def pause_for(hub: HubContext, campaign: Campaign, reason: str) -> None:
    """The hub pauses a campaign it cannot go on with (usage limits, suspension); a resume after
    the cause is gone goes on where it stopped."""
    await _set_status(hub, campaign, LIVE_STATUSES, {"status": "paused", "paused_reason": reason})


async def run_batch(hub: HubContext, campaign_id: str, batch: int, now: datetime) -> dict[str, Any]:
    """Send one batch of the campaign at `now`, then enqueue the next one."""
    if not PydanticObjectId.is_valid(campaign_id):
        return {"skipped": "no such campaign"}
    campaign = await Campaign.get(PydanticObjectId(campaign_id))
    if campaign is None:
        return {"skipped": "no such campaign"}
    if campaign.status not in LIVE_STATUSES:
        return {"skipped": f"campaign is {campaign.status}"}
    if campaign.batch != batch:
        # A repeated or late run: make sure the current batch's job is queued (a no-op if it is).
        if campaign.batch > batch:
            await enqueue(hub, campaign.id, campaign.batch, _wait_s(campaign, now))
        return {"skipped": "stale batch"}
    start_at = campaign.schedule.start_at
    if start_at is not None and start_at > now:
        await _set_status(hub, campaign, ("running", "waiting"), {"status": "scheduled"})
        await _advance(hub, campaign, batch, (start_at - now).total_seconds())
        return {"scheduled": start_at.isoformat()}
    window = campaign.schedule.window
    if window is not None:
        sending_window = SendingWindow.parse(window.start, window.end, window.tz)
        if not sending_window.is_open(now):
            opens = sending_window.next_open(now)
            await _set_status(hub, campaign, LIVE_STATUSES, {"status": "waiting", "next_send_at": opens})
            await _advance(hub, campaign, batch, (opens - now).total_seconds())
            return {"waiting": opens.isoformat()}
    if campaign.status != "running":
        await _set_status(
            hub, campaign, ("scheduled", "waiting"), {"status": "running", "next_send_at": None}
        )
    began = time.monotonic()
    rate = rate_per_minute(hub, campaign)
    size = max(1, min(BATCH_MAX, math.ceil(rate / 6)))
    cursor = campaign.cursor
    # A bounded range of `n` (SecantusDB reads all a filter selects before it sorts and limits):
    # the recipients from the cursor on, of which the pending ones are sent.
    span = {"$gte": cursor, "$lt": cursor + size}
    in_span = await CampaignTarget.find({"campaign_id": campaign.id, "n": span}).sort("n").to_list()
    await _recover_interrupted(hub, campaign, in_span, now)
    rows = [t for t in in_span if t.stage == "pending"]
    if not rows and cursor >= campaign.counts.get("recipients", 0):
        if await _set_status(
            hub, campaign, ("running",), {"status": "done", "finished_at": now, "next_send_at": None}
        ):
            # Counters a killed process left off are set right (left for the sweep while
            # delivery reports are moving recipients).
            if await recount(campaign.id):
                await campaign_progress.publish(hub, campaign.account_id, str(campaign.id))
            await campaign_progress.flush()
        return {"done": True}
    sent = 0
    sender = _Sender(hub, campaign, now)
    budget = hub.settings.campaign.batch_budget_s
    for i, target in enumerate(rows):
        outcome = await sender.send(target)
        if outcome == "paused":
            await campaign_progress.flush()
            return {"paused": sender.paused_reason, "sent": sent}
        sent += outcome == "queued"
        if i + 1 < len(rows) and time.monotonic() - began >= budget:
            # Out of time (a loaded machine): the next job goes on with the rest of this range
            # at once, rather than this one running into the job's timeout and being run again.
            await campaign_progress.publish(hub, campaign.account_id, str(campaign.id))
            await _advance(hub, campaign, batch, (i + 1) * 60 / rate - (time.monotonic() - began))
            await campaign_progress.flush()
            return {"queued": sent, "batch": batch, "continued": len(rows) - i - 1}
    await campaign_progress.publish(hub, campaign.account_id, str(campaign.id))
    delay = len(rows) * 60 / rate - (time.monotonic() - began)
    left = await targets().count_documents(
        {"campaign_id": campaign.id, "n": span, "stage": {"$in": ["pending", "sending"]}}
    )
    await _advance(hub, campaign, batch, delay, cursor + size if left == 0 else None)
    await campaign_progress.flush()
    return {"queued": sent, "batch": batch}


def _wait_s(campaign: Campaign, now: datetime) -> float:
    at = campaign.next_send_at or campaign.schedule.start_at
    return max(0.0, (at - now).total_seconds()) if at is not None else 0.0


async def _recover_interrupted(
    hub: HubContext, campaign: Campaign, rows: list[CampaignTarget], now: datetime
) -> None:
    """Sender-name sends a killed job left half-way (in this batch's range: the cursor does not
    pass them): retried where the gateway de-duplicates, else failed as possibly sent (never sent
    twice)."""
    for target in rows:
        if target.stage != "sending" or (
            target.claimed_at is not None and now - target.claimed_at < STALE_SENDING
        ):
            continue
        try:
            idempotent = hub.provider(campaign.sender.provider).idempotent
        except LookupError:
            idempotent = False
        if idempotent:
            await targets().update_one({"_id": target.id, "stage": "sending"}, {"$set": {"stage": "pending"}})
            target.stage = "pending"
            continue
        result = await targets().update_one(
            {"_id": target.id, "stage": "sending", "status": "queued"},
            {
                "$set": {
                    "stage": "handed",
                    "status": "failed",
                    "reason": UNKNOWN_OUTCOME,
                    "moved_at": utcnow(),
                }
            },
        )
        if result.modified_count:
            target.stage = "handed"
            await usage.bill_reserved(message_key(campaign.id, target.phone))
            await count(campaign.id, {"queued": -1, "failed": 1})


async def skip(campaign: Campaign, target_id: Any, reason: str, stage: str = "pending") -> bool:
    result = await targets().update_one(
        {"_id": target_id, "stage": stage, "status": "queued"},
        {"$set": {"stage": "handed", "status": "skipped", "reason": reason, "moved_at": utcnow()}},
    )
    if result.modified_count != 1:
        return False
    await count(campaign.id, {"queued": -1, "skipped": 1})
    return True


class _Sender:
    """Sends one batch's recipients; keeps what the batch looked up once (the numbers, the pool)."""

    def __init__(self, hub: HubContext, campaign: Campaign, now: datetime) -> None:
        self.hub = hub
        self.campaign = campaign
        self.now = now
        self.parts = tpl.parse(campaign.text)
        self.tag = CampaignTag(str(campaign.id), campaign.name)
        self.paused_reason: str | None = None
        self._number: Number | None = None
        self._pool: list[Number] | None = None

    async def _pause(self, reason: str) -> str:
        self.paused_reason = reason
        await pause_for(self.hub, self.campaign, reason)
        return "paused"

    async def send(self, target: CampaignTarget) -> str:
        """ "queued", "skipped", "failed", "paused" (the campaign stopped) or "" (another run had it)."""
        if self.campaign.sender.kind == "name":
            return await self._send_named(target)
        key = message_key(self.campaign.id, target.phone)
        number = await self._from(target)
        if isinstance(number, str):
            return (
                await self._pause(number)
                if number.startswith("pause:")
                else ("skipped" if await skip(self.campaign, target.id, number) else "")
            )
        # Checked again here, not only at build time: an opt-out or a block may have come since.
        from hub.services.outbound import existing_campaign_message

        existing = await existing_campaign_message(self.campaign.account_id, key)
        if existing is None and await is_suppressed(target.phone, number.e164, self.campaign.account_id):
            return "skipped" if await skip(self.campaign, target.id, SUPPRESSED) else ""
        # The message's id is the target's before the message exists: a delivery report that
        # comes before the target is marked handed still finds it.
        message_id = existing.id if existing is not None else PydanticObjectId()
        claimed = await targets().update_one(
            {"_id": target.id, "stage": "pending"}, {"$set": {"message_id": message_id}}
        )
        if claimed.matched_count != 1:
            return ""
        text = tpl.render_parts(self.parts, target.fields)
        try:
            message = await queue_campaign_message(
                self.hub,
                self.campaign.account_id,
                number,
                target.phone,
                text,
                self.tag,
                key,
                message_id,
                media=self.campaign.media,
            )
        except usage.UsageRefused as exc:
            return await self._pause(exc.message)
        except Conflict as exc:
            if exc.extra.get("code") == "account_suspended":
                return await self._pause(exc.message)
            await self._fail(target, exc.message)
            return "failed"
        except ServiceError as exc:
            await self._fail(target, exc.message)
            return "failed"
        if message.id != message_id:
            await targets().update_one({"_id": target.id}, {"$set": {"message_id": message.id}})
            await campaign_progress.on_status(self.hub, message, message.created_at)
        await targets().update_one(
            {"_id": target.id, "stage": "pending"},
            {
                "$set": {
                    "stage": "handed",
                    "sender": number.e164,
                    "conversation_id": message.conversation_id,
                    "handed_at": self.now,
                }
            },
        )
        return "queued"

    async def _fail(self, target: CampaignTarget, reason: str) -> None:
        result = await targets().update_one(
            {"_id": target.id, "stage": "pending", "status": "queued"},
            {"$set": {"stage": "handed", "status": "failed", "reason": reason, "moved_at": utcnow()}},
        )
        if result.modified_count:
            await count(self.campaign.id, {"queued": -1, "failed": 1})

    async def _from(self, target: CampaignTarget) -> Number | str:
        """The number to send from; a str says why none: "pause:<reason>" or a skip reason."""
        sender = self.campaign.sender
        if sender.kind == "number":
            if self._number is None:
                found = await Number.get(PydanticObjectId(sender.number_id)) if sender.number_id else None
                if found is None or found.account_id != self.campaign.account_id:
                    return f"pause:the number {sender.number or ''} is no longer the account's"
                self._number = found
            return self._number
        if self._pool is None:
            self._pool = await pool(sender.kind == "eco")
        by_e164 = {n.e164: n for n in self._pool}
        if not by_e164:
            return "pause:the operator has no virtual numbers left to send from"
        busy: set[str] = set()
        async for b in CampaignRecipient.find({"phone": target.phone}):
            if b.campaign_id == str(self.campaign.id) and b.number in by_e164:
                return by_e164[b.number]  # bound by an interrupted earlier attempt: the same pair
            if binding_live(b.sent_at, self.now):
                busy.add(b.number)
        choice = pick_number(sorted(by_e164), busy if sender.kind == "2way" else set(), target.n)
        if choice is None:
            return "every virtual number of the pool is held for this recipient by another live campaign"
        return by_e164[choice]

    async def _send_named(self, target: CampaignTarget) -> str:
        """A sender name: no number, no conversation (no reply can come); the gateway is called
        here, once, under a claim on the target."""
        campaign, hub = self.campaign, self.hub
        name = campaign.sender.name or ""
        if await is_suppressed(target.phone, name, campaign.account_id):
            return "skipped" if await skip(campaign, target.id, SUPPRESSED) else ""
        claim = await targets().update_one(
            {"_id": target.id, "stage": "pending"}, {"$set": {"stage": "sending", "claimed_at": self.now}}
        )
        if claim.modified_count != 1:
            return ""
        key = message_key(campaign.id, target.phone)
        segments = target.segments or 1
        charge = usage.Charge(key, campaign.account_id, "campaign", "sms", segments, segments)
        try:
            await usage.reserve(charge)
        except usage.UsageRefused as exc:
            await targets().update_one({"_id": target.id, "stage": "sending"}, {"$set": {"stage": "pending"}})
            return await self._pause(exc.message)
        text = tpl.render_parts(self.parts, target.fields)
        try:
            provider = hub.provider(campaign.sender.provider)
            await hub.gateway_health.send(
                provider,
                OutboundRequest(
                    message_id=key, sender=name, recipient=target.phone, text=text, wants_report=False
                ),
            )
        except (ProviderError, LookupError) as exc:
            if isinstance(exc, ProviderError) and exc.maybe_sent:
                await usage.bill(charge)
            else:
                await usage.release(key)
            await targets().update_one(
                {"_id": target.id, "stage": "sending"},
                {"$set": {"stage": "handed", "status": "failed", "reason": str(exc), "sender": name}},
            )
            await count(campaign.id, {"queued": -1, "failed": 1})
            return "failed"
        await usage.bill(charge)
        await targets().update_one(
            {"_id": target.id, "stage": "sending"},
            {
                "$set": {
                    "stage": "handed",
                    "status": "sent",
                    "sent_at": self.now,
                    "sender": name,
                    "handed_at": self.now,
                }
            },
        )
        await count(campaign.id, {"queued": -1, "sent": 1})
        return "queued"


async def sweep(hub: HubContext, now: datetime) -> int:
    """Enqueue the current batch of every live campaign (a process that died took its timers), and
    recount the counters of the live ones and of those finished within `RECOUNT_DONE` (a process
    killed between a recipient's move and its counters' left them off), and delete the campaigns
    whose build died part-way, with their targets."""
    dropped = await drop_abandoned_builds(now)
    if dropped:
        log.warning("deleted %d campaign(s) whose audience build was interrupted", dropped)
    n = 0
    async for doc in campaigns().find({"status": {"$in": [*LIVE_STATUSES, "paused"]}}):
        campaign = Campaign.model_validate(doc)
        await recount(campaign.id)
        if campaign.status in LIVE_STATUSES:
            await enqueue(hub, campaign.id, campaign.batch, _wait_s(campaign, now))
            n += 1
    async for doc in campaigns().find(
        {"status": "done", "finished_at": {"$gte": now - RECOUNT_DONE}}, {"_id": 1}
    ):
        await recount(doc["_id"])
    return n
