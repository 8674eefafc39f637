"""The sweep of stale usage reservations (workers/usage_sweep.py): units reserved by a process that
died are given back when the send never stored its message, billed once when the gateway had it,
left alone while the send path still has it, and two sweeps at once act once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.messages import Direction, MessageStatus
from hub.services import usage
from hub.store.accounts import Account, utcnow
from hub.store.messages import Message, MessageAuthor, StatusEntry
from hub.store.usage import UsageEntry, UsageLimits, UsageMonth, UsageState
from tests.conftest import Tenant, serve
from tests.e2e.test_usage import until
from workers.send import UNKNOWN_OUTCOME
from workers.usage_sweep import sweep_reservations


def a_reply(tenant: Tenant, status: MessageStatus, detail: str | None = None) -> Message:
    account_id = PydanticObjectId(tenant.account_id)
    history = [StatusEntry(status=MessageStatus.QUEUED, at=utcnow())]
    if status != MessageStatus.QUEUED:
        history.append(StatusEntry(status=status, at=utcnow(), detail=detail))
    return Message(
        id=PydanticObjectId(),
        account_id=account_id,
        conversation_id=PydanticObjectId(),
        direction=Direction.OUTBOUND,
        sender=tenant.number,
        recipient="+48601222333",
        text="Dzień dobry, zażółć gęślą jaźń",
        provider="simulator",
        provider_message_id=f"sim-{PydanticObjectId()}" if status == MessageStatus.SENT else None,
        status=status,
        status_history=history,
        author=MessageAuthor(kind="agent"),
        segments=1,
        seq=1,
    )


async def reserved_for(hub: HubContext, message: Message, *, stored: bool, age_s: float = 600.0) -> str:
    """Units reserved for `message` by a process that then died (before storing it, or after, when
    `stored`), `age_s` ago."""
    charge = usage.charge_for_message(message, hub.settings.usage.mms_units)
    await usage.reserve(charge)
    if stored:
        await message.insert()
    await UsageEntry.get_pymongo_collection().update_one(
        {"_id": charge.key}, {"$set": {"created_at": utcnow() - timedelta(seconds=age_s)}}
    )
    return charge.key


async def sweep(hub: HubContext) -> dict[str, Any]:
    return await sweep_reservations({"hub": hub, "attempt": 1, "max_attempts": 3})


async def figures(tenant: Tenant) -> tuple[int | None, int]:
    """The account's prepaid balance and this month's counter."""
    account_id = PydanticObjectId(tenant.account_id)
    limits = await UsageLimits.get(account_id)
    month = await UsageMonth.get(f"{account_id}:{usage.month_of(utcnow())}")
    return (limits.balance_units if limits else None), (month.units if month else 0)


async def billed(tenant: Tenant) -> usage.UsageRow:
    account = await Account.get(PydanticObjectId(tenant.account_id))
    assert account is not None
    return await usage.account_usage(account, usage.month_of(utcnow()))


async def state_of(key: str) -> UsageState:
    entry = await UsageEntry.get(key)
    assert entry is not None
    return entry.state


async def limited(tenant: Tenant) -> None:
    account_id = PydanticObjectId(tenant.account_id)
    await usage.set_limits(account_id, {"monthly_segments": 100})
    await usage.top_up(account_id, 10)


async def test_a_reservation_whose_message_was_never_stored_is_released(
    hub: HubContext, tenant_a: Tenant
) -> None:
    await limited(tenant_a)
    lost = await reserved_for(hub, a_reply(tenant_a, MessageStatus.QUEUED), stored=False)
    # A forward reservation whose delivery is gone.
    forward = usage.Charge(
        key=usage.forward_key(PydanticObjectId(), 0),
        account_id=PydanticObjectId(tenant_a.account_id),
        kind="forward",
        channel="forward",
        segments=2,
        units=2,
        message_id=PydanticObjectId(),
    )
    await usage.reserve(forward)
    await UsageEntry.get_pymongo_collection().update_one(
        {"_id": forward.key}, {"$set": {"created_at": utcnow() - timedelta(minutes=10)}}
    )
    # Young: perhaps a send between reserving and storing its message right now.
    young = await reserved_for(hub, a_reply(tenant_a, MessageStatus.QUEUED), stored=False, age_s=0)
    assert await figures(tenant_a) == (6, 4)

    assert await sweep(hub) == {"billed": 0, "released": 2, "left": 0}
    assert await state_of(lost) == UsageState.RELEASED
    assert await state_of(forward.key) == UsageState.RELEASED
    assert await state_of(young) == UsageState.RESERVED
    assert await figures(tenant_a) == (9, 1)
    assert (await billed(tenant_a)).units == 0


async def test_a_reservation_whose_message_was_sent_is_billed_once(hub: HubContext, tenant_a: Tenant) -> None:
    await limited(tenant_a)
    sent = await reserved_for(hub, a_reply(tenant_a, MessageStatus.SENT), stored=True)
    unknown = await reserved_for(
        hub, a_reply(tenant_a, MessageStatus.FAILED, f"{UNKNOWN_OUTCOME} (timeout)"), stored=True
    )
    refused = await reserved_for(
        hub, a_reply(tenant_a, MessageStatus.FAILED, "no provider 'nosuch'"), stored=True
    )
    queued = await reserved_for(hub, a_reply(tenant_a, MessageStatus.QUEUED), stored=True)
    assert await figures(tenant_a) == (6, 4)

    assert await sweep(hub) == {"billed": 2, "released": 1, "left": 1}
    assert [await state_of(k) for k in (sent, unknown, refused, queued)] == [
        UsageState.BILLED,
        UsageState.BILLED,
        UsageState.RELEASED,
        UsageState.RESERVED,
    ]
    # Billed: the units stay taken; the failed one's unit is back; the queued one waits for its send.
    assert await figures(tenant_a) == (7, 3)
    # Again: nothing billed twice, nothing billed released.
    assert await sweep(hub) == {"billed": 0, "released": 0, "left": 1}
    await usage.release(sent)
    assert await state_of(sent) == UsageState.BILLED
    assert await figures(tenant_a) == (7, 3)
    row = await billed(tenant_a)
    assert row.units == 2 and row.sms_messages == 2


async def test_two_sweeps_at_once_act_once(hub: HubContext, tenant_a: Tenant) -> None:
    await limited(tenant_a)
    lost: list[str] = []
    sent: list[str] = []
    for _ in range(3):  # in turns, so each sweep finds both kinds while the other works
        lost.append(await reserved_for(hub, a_reply(tenant_a, MessageStatus.QUEUED), stored=False))
        sent.append(await reserved_for(hub, a_reply(tenant_a, MessageStatus.SENT), stored=True))
    assert await figures(tenant_a) == (4, 6)

    results = await asyncio.gather(sweep(hub), sweep(hub), sweep(hub))
    assert sum(r["released"] for r in results) == 3, results
    assert sum(r["billed"] for r in results) == 3, results
    assert await figures(tenant_a) == (7, 3)
    assert {await state_of(k) for k in lost} == {UsageState.RELEASED}
    assert {await state_of(k) for k in sent} == {UsageState.BILLED}


async def test_the_hub_sweeps_at_start_up(hub: HubContext, tenant_a: Tenant) -> None:
    """A hub starting after a process died with a reservation outstanding gives its units back."""
    await limited(tenant_a)
    lost = await reserved_for(hub, a_reply(tenant_a, MessageStatus.QUEUED), stored=False)
    assert await figures(tenant_a) == (9, 1)

    async def released() -> bool:
        return await state_of(lost) == UsageState.RELEASED

    async with serve(hub):
        await until(released, "the start-up sweep released the reservation")
    assert await figures(tenant_a) == (10, 0)
