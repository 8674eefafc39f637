"""Snooze: a conversation leaves the open list until a time, then reopens by itself.

Snoozing stores `snoozed_until`, publishes `conversation.updated` (change `snooze`), then enqueues
the job `wake_snoozed` to run at that time. The job clears the field only if it still holds the
time the job was made for (a compare-and-set), so a conversation snoozed again, woken by the
contact's text (services.threads clears the field with the text's count) or unsnoozed by hand is
left alone. A delayed job rather than a periodic sweep: nothing polls the database while nothing is
due, and the wake-up comes on time. The in-process queue forgets its timers when the process stops,
so the start-up sweep (`reschedule`) enqueues the job again for every snoozed conversation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import snooze as rules
from hub.realtime.payloads import iso
from hub.services import capacity
from hub.services.errors import Conflict, Invalid
from hub.services.outbound import get_conversation
from hub.store import update_then_read
from hub.store.conversations import Conversation, ConversationStatus

DUE_SLACK = timedelta(seconds=2)
"""A job run this early (saq schedules in whole seconds) still wakes its conversation."""
SWEEP_LIMIT = 10_000


def _job_key(conversation_id: PydanticObjectId | None, until: datetime) -> str:
    return f"wake-{conversation_id}-{int(until.timestamp())}"


async def _schedule(hub: HubContext, conv: Conversation, now: datetime) -> None:
    assert conv.snoozed_until is not None
    delay = max((conv.snoozed_until - now).total_seconds(), 0.0)
    await hub.jobs.enqueue(
        "wake_snoozed",
        key=_job_key(conv.id, conv.snoozed_until),
        delay_s=delay,
        conversation_id=str(conv.id),
        until=iso(conv.snoozed_until),
    )


async def snooze(
    hub: HubContext,
    account_id: PydanticObjectId,
    conversation_id: str,
    *,
    until: str | None,
    preset: str | None,
    now: datetime,
) -> Conversation:
    """Snooze until a chosen time (`until`, ISO 8601 with an offset) or a preset (`1h`, `tomorrow`)."""
    if (until is None) == (preset is None):
        raise Invalid("give either until or preset", field="until")
    try:
        when = rules.preset_until(preset, now) if preset is not None else rules.parse_until(until or "", now)
    except ValueError as exc:
        raise Invalid(str(exc), field="preset" if preset is not None else "until") from None
    # Whole seconds: the stored time is what the wake-up job compares with (MongoDB keeps milliseconds).
    when = when.replace(microsecond=0)
    if when <= now:
        raise Invalid("until must be in the future", field="until")
    conv = await get_conversation(account_id, conversation_id)
    doc = await update_then_read(
        Conversation.get_pymongo_collection(),
        {"_id": conv.id, "account_id": account_id, "status": {"$ne": ConversationStatus.CLOSED.value}},
        {"$set": {"snoozed_until": when, "updated_at": now}, "$inc": {"version": 1}},
    )
    if doc is None:
        raise Conflict("a closed conversation cannot be snoozed", field="conversation_id")
    snoozed = await capacity.publish(hub, doc, "snooze")
    await _schedule(hub, snoozed, now)
    return snoozed


async def unsnooze(
    hub: HubContext, account_id: PydanticObjectId, conversation_id: str, now: datetime
) -> Conversation:
    """Reopen a snoozed conversation now (a no-op for one that is not snoozed)."""
    conv = await get_conversation(account_id, conversation_id)
    if conv.snoozed_until is None:
        return conv
    woken = await _wake(hub, conv.id, conv.snoozed_until, now)
    return woken or await get_conversation(account_id, conversation_id)


async def _wake(
    hub: HubContext, conversation_id: PydanticObjectId | None, until: datetime, now: datetime
) -> Conversation | None:
    doc = await update_then_read(
        Conversation.get_pymongo_collection(),
        {"_id": conversation_id, "snoozed_until": until},
        {"$set": {"snoozed_until": None, "updated_at": now}, "$inc": {"version": 1}},
    )
    if doc is None:
        return None
    conv = await capacity.publish(hub, doc, "snooze")
    # Unassigned: it joins the routing queue (when the account routes by capacity).
    await capacity.settle(hub, conv)
    return conv


async def wake(hub: HubContext, conversation_id: str, until: str, now: datetime) -> bool:
    """The job `wake_snoozed`: reopen the conversation if it is still snoozed until `until`.

    Returns False when there was nothing to do (snoozed again, already woken) or it is not yet
    time (then it is scheduled again for the rest).
    """
    when = datetime.fromisoformat(until.replace("Z", "+00:00"))
    if now < when - DUE_SLACK:
        await hub.jobs.enqueue(
            "wake_snoozed",
            key=f"{_job_key(PydanticObjectId(conversation_id), when)}-again",
            delay_s=(when - now).total_seconds(),
            conversation_id=conversation_id,
            until=until,
        )
        return False
    return await _wake(hub, PydanticObjectId(conversation_id), when, now) is not None


async def reschedule(hub: HubContext, now: datetime) -> dict[str, int]:
    """At start-up: wake the snoozed conversations that are due, and schedule the others' jobs.

    Reads every snoozed conversation (a scan on SecantusDB: once per process start)."""
    woken = scheduled = 0
    cursor = Conversation.find({"snoozed_until": {"$ne": None}}).limit(SWEEP_LIMIT)
    async for conv in cursor:
        assert conv.snoozed_until is not None
        if conv.snoozed_until <= now + DUE_SLACK:
            woken += await _wake(hub, conv.id, conv.snoozed_until, now) is not None
        else:
            await _schedule(hub, conv, now)
            scheduled += 1
    return {"woken": woken, "scheduled": scheduled}
