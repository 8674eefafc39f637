"""Capacity routing: the queue of waiting conversations and the rounds that assign them.

A conversation enters the queue (`queue` and `waiting_since` set) when it is new or reopened by the contact's
text, or unassigned by hand, while its account has `auto_assign` on. A round
(`request_round`) gives the oldest waiting conversations to online agents with free capacity
(hub.domain.capacity.plan); one runs after a conversation enters the queue, after an agent comes
online, after a conversation is closed or reassigned, and after an admin changes a capacity.

Why rounds cannot assign over capacity when several processes run them: a round counts each
agent's open conversations afresh from the conversations themselves (no per-agent counter that
every assign, close and reopen path would have to keep right), and only one process runs an
account's round at a time. That process holds the account's `RoutingLease`, taken with a
compare-and-set on its holder; a request made while a round runs bumps `wanted`, and the holder
only lets go with a compare-and-set on the `wanted` it started from, so it runs another round
instead of leaving the request behind. Each assignment is itself a compare-and-set on the
conversation still waiting, so an agent assigning one by hand at the same moment wins.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.context import HubContext
from hub.domain import capacity as core
from hub.domain import events as ev
from hub.realtime.bus import now_iso
from hub.realtime.payloads import conversation_payload, iso
from hub.services import presence
from hub.services.errors import Invalid, NotFound
from hub.store import from_doc, update_then_read
from hub.store.accounts import Account, Agent, utcnow
from hub.store.capacity import RoutingLease
from hub.store.conversations import Conversation, ConversationStatus
from hub.store.grouped import Finds
from hub.store.sequences import next_seq

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
"""How long a round may take before another process may run the account's rounds instead."""
MAX_ROUNDS = 20
"""Rounds one holder runs back to back before it leaves the rest to the next request."""
QUEUE_READ_LIMIT = 500
"""Waiting conversations one round reads (the oldest): more than any team's free capacity."""

_accounts = Finds(Account.get_pymongo_collection, ("_id",))

Change = Literal["assigned", "status"]


def _waiting_filter(account_id: PydanticObjectId) -> dict[str, Any]:
    # Led by `queue`, an equality that selects only the account's waiting conversations (the
    # index SecantusDB uses is the one led by the filter's first field; it scans for a range).
    return {
        "queue": account_id,
        "assignee_id": None,
        "status": ConversationStatus.OPEN.value,
        "snoozed_until": None,
    }


def _entering(conv: Conversation) -> dict[str, Any]:
    """The compare-and-set that puts an open, unassigned, unsnoozed conversation in the queue once."""
    return {
        "_id": conv.id,
        "queue": None,
        "assignee_id": None,
        "status": ConversationStatus.OPEN.value,
        "snoozed_until": None,
    }


def _enter(account_id: PydanticObjectId, now: datetime) -> dict[str, Any]:
    return {"queue": account_id, "waiting_since": now, "updated_at": now}


LEAVE_QUEUE: dict[str, Any] = {"queue": None, "waiting_since": None}


async def publish(hub: HubContext, doc: dict[str, Any], change: str) -> Conversation:
    conv = from_doc(Conversation, doc)
    await hub.bus.record(
        ev.ConversationUpdated(
            seq=await next_seq(conv.account_id),
            account_id=str(conv.account_id),
            at=now_iso(),
            data=conversation_payload(conv),
            change=change,  # type: ignore[arg-type]
        )
    )
    return conv


async def _auto_assign(account_id: PydanticObjectId) -> bool:
    doc = await _accounts.find_one(account_id)
    return bool(doc and doc.get("auto_assign"))


async def on_inbound(hub: HubContext, conv: Conversation) -> None:
    """After an inbound text was counted into `conv`: a new conversation, or one the text reopened,
    enters the queue when the account routes by capacity. Safe to repeat (compare-and-sets)."""
    reopened = conv.closed_at is not None and conv.status == ConversationStatus.OPEN
    fresh = (
        conv.status == ConversationStatus.OPEN
        and conv.assignee_id is None
        and conv.waiting_since is None
        and conv.snoozed_until is None
    )
    if not (reopened or fresh):
        return
    auto = await _auto_assign(conv.account_id)
    coll = Conversation.get_pymongo_collection()
    now = utcnow()
    if reopened:
        query = {"_id": conv.id, "closed_at": conv.closed_at, "status": ConversationStatus.OPEN.value}
        if not auto:
            await coll.update_one(query, {"$set": {"closed_at": None}})
            return
        # Reopened by the contact: back to the queue, whoever had it before.
        update = {
            "$set": {"closed_at": None, "assignee_id": None, **_enter(conv.account_id, now)},
            "$inc": {"version": 1},
        }
    elif auto:
        query = _entering(conv)
        update = {"$set": _enter(conv.account_id, now), "$inc": {"version": 1}}
    else:
        return
    doc = await update_then_read(coll, query, update)
    if doc is not None:
        await publish(hub, doc, "assigned")
    await request_round(hub, conv.account_id)


async def settle(hub: HubContext, conv: Conversation) -> None:
    """After an agent assigned, unassigned, closed or reopened `conv` by hand: an open conversation
    left unassigned enters the queue, and a round runs (capacity may have come free)."""
    if not await _auto_assign(conv.account_id):
        return
    if (
        conv.status == ConversationStatus.OPEN
        and conv.assignee_id is None
        and conv.waiting_since is None
        and conv.snoozed_until is None
    ):
        now = utcnow()
        doc = await update_then_read(
            Conversation.get_pymongo_collection(),
            _entering(conv),
            {"$set": _enter(conv.account_id, now), "$inc": {"version": 1}},
        )
        if doc is not None:
            await publish(hub, doc, "assigned")
    await request_round(hub, conv.account_id)


async def agent_online(hub: HubContext, account_id: PydanticObjectId) -> None:
    """An agent opened a socket: it may take waiting conversations."""
    if await _auto_assign(account_id):
        await request_round(hub, account_id)


async def request_round(hub: HubContext, account_id: PydanticObjectId) -> None:
    """Run the account's round now, or have the process running one run another after it."""
    coll = RoutingLease.get_pymongo_collection()
    asked = await coll.update_one({"_id": account_id}, {"$inc": {"wanted": 1}})
    if asked.matched_count == 0:
        try:
            await coll.insert_one({"_id": account_id, "holder": None, "until": None, "wanted": 1})
        except DuplicateKeyError:
            await coll.update_one({"_id": account_id}, {"$inc": {"wanted": 1}})
    token = secrets.token_hex(8)
    now = utcnow()
    take = {"$set": {"holder": token, "until": now + LEASE}}
    # Two single-field compare-and-sets rather than one `$or` (which SecantusDB answers with a scan).
    took = await coll.update_one({"_id": account_id, "holder": None}, take)
    if took.matched_count == 0:
        took = await coll.update_one({"_id": account_id, "until": {"$lt": now}}, take)
        if took.matched_count == 0:
            return  # the holder sees `wanted` grow and runs another round
    try:
        for _ in range(MAX_ROUNDS):
            lease = await coll.find_one({"_id": account_id})
            if lease is None or lease.get("holder") != token:
                return
            wanted = lease.get("wanted", 0)
            await run_round(hub, account_id, utcnow())
            done = await coll.update_one(
                {"_id": account_id, "holder": token, "wanted": wanted},
                {"$set": {"holder": None, "until": None}},
            )
            if done.matched_count:
                return
            await coll.update_one({"_id": account_id, "holder": token}, {"$set": {"until": utcnow() + LEASE}})
    finally:
        await coll.update_one({"_id": account_id, "holder": token}, {"$set": {"holder": None, "until": None}})


async def open_counts(
    account_id: PydanticObjectId, agent_ids: list[PydanticObjectId]
) -> dict[str, list[str]]:
    """Each agent's conversations that are not closed (snoozed ones count: they are still the
    agent's): their ids by agent id."""
    found: dict[str, list[str]] = {str(a): [] for a in agent_ids}
    cursor = Conversation.get_pymongo_collection().find(
        {
            # Led by the agents (the index on assignee and status), not by the account.
            "assignee_id": {"$in": agent_ids},
            "status": {"$in": [ConversationStatus.OPEN.value, ConversationStatus.PENDING.value]},
            "account_id": account_id,
        },
        projection={"assignee_id": 1},
    )
    async for doc in cursor:
        found.setdefault(str(doc["assignee_id"]), []).append(str(doc["_id"]))
    return found


async def waiting(account_id: PydanticObjectId, limit: int = QUEUE_READ_LIMIT) -> list[Conversation]:
    """The queue, longest waiting first."""
    rows = await Conversation.find(_waiting_filter(account_id)).to_list()
    # Sorted here: SecantusDB reads every document the filter selects before it sorts anyway.
    rows.sort(key=lambda c: (c.waiting_since or c.created_at, str(c.id)))
    return rows[:limit]


async def run_round(hub: HubContext, account_id: PydanticObjectId, now: datetime) -> list[core.Assignment]:
    """One round: read the loads and the queue, plan, write each assignment, publish it."""
    account = await Account.get(account_id)
    if account is None or not account.auto_assign:
        return []
    agents = await Agent.find({"account_id": account_id, "active": True, "capacity": {"$gt": 0}}).to_list()
    if not agents:
        return []
    queue = await waiting(account_id)
    if not queue:
        return []
    online = {a["agent_id"] for a in await presence.online(account_id)}
    counts = await open_counts(account_id, [a.id for a in agents if a.id is not None])
    planned = core.plan(
        [
            core.AgentLoad(
                id=str(a.id),
                online=str(a.id) in online,
                capacity=a.capacity,
                open_count=len(counts.get(str(a.id), [])),
                last_assigned_at=a.last_assigned_at,
            )
            for a in agents
        ],
        [core.Waiting(id=str(c.id), waiting_since=c.waiting_since or now) for c in queue],
    )
    coll = Conversation.get_pymongo_collection()
    done: list[core.Assignment] = []
    for n, step in enumerate(planned):
        agent_id = PydanticObjectId(step.agent_id)
        doc = await update_then_read(
            coll,
            {**_waiting_filter(account_id), "_id": PydanticObjectId(step.conversation_id)},
            {
                "$set": {"assignee_id": agent_id, **LEAVE_QUEUE, "updated_at": now},
                "$inc": {"version": 1},
            },
        )
        if doc is None:
            continue  # assigned, closed or snoozed by hand meanwhile
        # A microsecond apart, so the next round's line keeps this round's order.
        await Agent.get_pymongo_collection().update_one(
            {"_id": agent_id}, {"$set": {"last_assigned_at": now + timedelta(microseconds=n)}}
        )
        await publish(hub, doc, "assigned")
        done.append(step)
    return done


# ------------------------------------------------------------------------------ settings and view


async def set_capacity(hub: HubContext, account_id: PydanticObjectId, agent_id: str, value: object) -> Agent:
    try:
        capacity = core.validate_capacity(value)
    except ValueError as exc:
        raise Invalid(str(exc), field="capacity") from None
    if not PydanticObjectId.is_valid(agent_id):
        raise NotFound("no such agent in this account", field="agent_id")
    agent = await Agent.find_one(
        {"_id": PydanticObjectId(agent_id), "account_id": account_id, "active": True}
    )
    if agent is None:
        raise NotFound("no such agent in this account", field="agent_id")
    await agent.set({"capacity": capacity})
    if await _auto_assign(account_id):
        await request_round(hub, account_id)
    return agent


async def set_routing(
    hub: HubContext, account_id: PydanticObjectId, auto_assign: bool | None, threshold: object | None
) -> Account:
    changes: dict[str, Any] = {}
    if auto_assign is not None:
        changes["auto_assign"] = auto_assign
    if threshold is not None:
        try:
            changes["waiting_threshold_minutes"] = core.validate_threshold(threshold)
        except ValueError as exc:
            raise Invalid(str(exc), field="waiting_threshold_minutes") from None
    account = await Account.get(account_id)
    if account is None:
        raise NotFound("no such account")
    if changes:
        await Account.get_pymongo_collection().update_one({"_id": account_id}, {"$set": changes})
        account = await Account.get(account_id)
        assert account is not None
    if changes.get("auto_assign"):
        await request_round(hub, account_id)
    return account


async def queue_view(account_id: PydanticObjectId, now: datetime) -> dict[str, Any]:
    """What the admins' queue panel shows: the queue with how long each waits, and the agents."""
    account = await Account.get(account_id)
    if account is None:
        raise NotFound("no such account")
    queue = await waiting(account_id)
    late = core.waiting_too_long(
        [core.Waiting(str(c.id), c.waiting_since or now) for c in queue],
        account.waiting_threshold_minutes,
        now,
    )
    agents = await Agent.find({"account_id": account_id, "active": True}).sort("name").to_list()
    online = {a["agent_id"] for a in await presence.online(account_id)}
    counts = await open_counts(account_id, [a.id for a in agents if a.id is not None])
    return {
        "auto_assign": account.auto_assign,
        "waiting_threshold_minutes": account.waiting_threshold_minutes,
        "now": iso(now),
        "waiting": [
            {
                "conversation": conversation_payload(c),
                "waiting_since": iso(c.waiting_since or now),
                "waited_s": int((now - (c.waiting_since or now)).total_seconds()),
                "waiting_too_long": str(c.id) in late,
            }
            for c in queue
        ],
        "agents": [
            {
                "id": str(a.id),
                "name": a.name,
                "role": a.role.value,
                "online": str(a.id) in online,
                "capacity": a.capacity,
                "open": len(counts.get(str(a.id), [])),
                "open_ids": counts.get(str(a.id), []),
            }
            for a in agents
        ],
    }
