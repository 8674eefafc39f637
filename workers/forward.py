"""The forwarding jobs: one attempt per run, the next one scheduled by the run before it.

Retries are scheduled here rather than by the queue's retry policy: the horizon is a day, every
attempt is stored for the panel, and a delivery must survive a restart of the in-process queue
(`forward_sweep` re-enqueues what was pending). The queue's own retries only cover failures of the
job itself (MongoDB unreachable, the delivery held by another attempt).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId

from hub.domain.forwarding import retry_delay
from hub.metrics import FORWARD_DELIVERIES
from hub.services.forwarding import enqueue_attempt
from hub.store import from_doc
from hub.store.accounts import utcnow
from hub.store.forwarding import DeliveryStatus, ForwardAttempt, ForwardDelivery, ForwardRule
from workers.context import JobContext
from workers.forward_targets import attempt

log = logging.getLogger(__name__)

# A job enqueued a little early (saq schedules in whole seconds) still counts as due.
DUE_SLACK = timedelta(seconds=2)
SWEEP_LIMIT = 10_000


class ClaimedElsewhere(Exception):
    """Another attempt holds this delivery; the queue retries the job later."""


async def _claim(delivery: ForwardDelivery, lease_s: float) -> tuple[str, ForwardDelivery] | None:
    """Take the delivery for one attempt (compare-and-set), returning the token and the state before."""
    now = utcnow()
    token = secrets.token_hex(8)
    coll = ForwardDelivery.get_pymongo_collection()
    # Read, then a compare-and-set on what was read (each claim sets a new token, each attempt
    # counts itself, each replay too): the same guarantee as find_one_and_update, which SecantusDB
    # carries out with a scan of the collection.
    before = await coll.find_one({"_id": delivery.id})
    if before is None or before.get("status") != DeliveryStatus.PENDING.value:
        return None
    held = before.get("claimed_until")
    if held is not None and held >= now:
        return None
    result = await coll.update_one(
        {
            "_id": delivery.id,
            "status": DeliveryStatus.PENDING.value,
            # An attempt that claimed and finished in between resets the token but not these.
            "claim_token": before.get("claim_token"),
            "attempt_count": before.get("attempt_count"),
            "replays": before.get("replays"),
        },
        {"$set": {"claimed_until": now + timedelta(seconds=lease_s), "claim_token": token}},
    )
    if result.modified_count != 1:
        return None
    return token, from_doc(ForwardDelivery, before)


async def _finish(delivery_id: Any, token: str, update: dict[str, Any]) -> bool:
    """Record an attempt's result, only if this attempt still holds the claim."""
    result = await ForwardDelivery.get_pymongo_collection().update_one(
        {"_id": delivery_id, "claim_token": token}, update
    )
    return result.modified_count == 1


async def forward_delivery(ctx: JobContext, *, delivery_id: str) -> dict[str, Any]:
    """Make one attempt at a delivery and schedule the next if it failed."""
    hub = ctx["hub"]
    settings = hub.settings.forwarding
    if not PydanticObjectId.is_valid(delivery_id):
        return {"skipped": "bad id"}
    delivery = await ForwardDelivery.get(PydanticObjectId(delivery_id))
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return {"skipped": "not pending"}
    now = utcnow()
    if delivery.next_attempt_at > now + DUE_SLACK:
        # An older job for an attempt that has since been made; the right one is scheduled.
        return {"skipped": "not due"}
    claimed = await _claim(delivery, settings.lease_s)
    if claimed is None:
        current = await ForwardDelivery.get(delivery.id)
        if current is None or current.status != DeliveryStatus.PENDING:
            return {"skipped": "finished by another attempt"}
        raise ClaimedElsewhere(delivery_id)
    token, before = claimed
    n = before.attempt_count + 1
    interrupted = before.claimed_until is not None
    if before.claimed_until is not None:
        # The previous holder died mid-attempt (its claim expired): the receiver may have seen that
        # request. Say so in the history; the retry carries the same delivery id.
        await _finish(
            delivery.id,
            token,
            {
                "$push": {
                    "attempts": ForwardAttempt(
                        n=n,
                        # When the lost attempt took its claim.
                        at=before.claimed_until - timedelta(seconds=settings.lease_s),
                        error="interrupted: the worker stopped mid-attempt",
                    ).model_dump()
                },
                "$inc": {"attempt_count": 1},
            },
        )
        n += 1
    if now >= before.give_up_at:
        await _finish(
            delivery.id,
            token,
            {
                "$set": {
                    "status": DeliveryStatus.DEAD.value,
                    "claimed_until": None,
                    "claim_token": None,
                    "completed_at": now,
                }
            },
        )
        FORWARD_DELIVERIES.labels(DeliveryStatus.DEAD.value).inc()
        return {"dead": "retry horizon passed"}

    rule = await ForwardRule.get(before.rule_id)
    started = time.monotonic()
    outcome = await attempt(hub, before, rule, n, interrupted)
    finished = utcnow()
    record = ForwardAttempt(
        n=n,
        at=now,
        duration_ms=int((time.monotonic() - started) * 1000),
        ok=outcome.ok,
        status_code=outcome.status_code,
        error=outcome.error,
    )
    fields: dict[str, Any] = {"claimed_until": None, "claim_token": None, "last_error": outcome.error}
    delay = 0.0
    if outcome.ok:
        fields.update(status=DeliveryStatus.DELIVERED.value, completed_at=finished)
        if outcome.provider_message_id is not None:
            fields.update(provider=outcome.provider, provider_message_id=outcome.provider_message_id)
    elif outcome.refused:
        # Refused by the hub itself (the target opted out or is blocked): nothing to retry or replay.
        fields.update(status=DeliveryStatus.REFUSED.value, completed_at=finished)
    else:
        delay = retry_delay(n, settings.first_retry_s, settings.max_retry_s)
        next_at = finished + timedelta(seconds=delay)
        if outcome.permanent or next_at >= before.give_up_at:
            fields.update(status=DeliveryStatus.DEAD.value, completed_at=finished)
        else:
            fields.update(next_attempt_at=next_at)
    stored = await _finish(
        delivery.id,
        token,
        {
            "$push": {"attempts": record.model_dump()},
            "$set": fields,
            "$inc": {"attempt_count": 1, "billable_segments": outcome.billable_segments},
        },
    )
    if not stored:
        log.warning("delivery %s: attempt %d outlived its claim; its result was not recorded", delivery_id, n)
        FORWARD_DELIVERIES.labels("lost_claim").inc()
        return {"lost_claim": n}
    FORWARD_DELIVERIES.labels(fields.get("status") or "retry").inc()
    if fields.get("status") is None:
        await enqueue_attempt(hub, before, str(n), delay_s=delay)
        return {"attempt": n, "retry_in_s": round(delay, 1), "error": outcome.error}
    return {"attempt": n, "status": fields["status"], "error": outcome.error}


async def forward_sweep(ctx: JobContext) -> dict[str, Any]:
    """Re-enqueue pending deliveries at start-up: the in-process queue forgets its timers in a crash,
    and an attempt whose worker was killed holds a claim that only expires."""
    hub = ctx["hub"]
    now = utcnow()
    count = 0
    # A key of its own per sweep: a job of the same delivery may still sit in saq under an older key,
    # held by the worker that died, and would swallow an enqueue under that key.
    run = secrets.token_hex(4)
    pending = ForwardDelivery.find({"status": DeliveryStatus.PENDING.value}).sort("next_attempt_at")
    async for delivery in pending.limit(SWEEP_LIMIT):
        due = max(delivery.next_attempt_at, delivery.claimed_until or delivery.next_attempt_at)
        delay = max((due - now).total_seconds(), 0.0) + (1.0 if delivery.claimed_until else 0.0)
        await enqueue_attempt(hub, delivery, f"sweep-{run}", delay_s=delay)
        count += 1
    return {"requeued": count}
