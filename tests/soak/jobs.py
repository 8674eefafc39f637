"""What the worker owes at a checkpoint: accepted replies delivered once, every forward delivered once.

Expected forwards (the soak's rule forwards every inbound message and every reply status): one
`message.received` per stored inbound message, and `message.status.sent` and `.delivered` per reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from pymongo.errors import PyMongoError

from tests.forwarding.helpers import Receiver
from tests.reliability.harness import Store

RECEIVED = "message.received"
REPLY_EVENTS = ("message.status.sent", "message.status.delivered")


@dataclass
class JobCounts:
    replies: int = 0
    """Replies the API accepted (201) before the checkpoint."""
    replies_refused: int = 0
    """Replies never accepted within the poster's deadline: not queued, so not a loss."""
    replies_not_delivered: int = 0
    replies_sent_not_once: int = 0
    """Replies whose status history holds `sent` zero or several times."""
    replies_stored_twice: int = 0
    forwards: int = 0
    forwards_missing: int = 0
    """Expected (message, event) pairs without any delivery record."""
    forwards_not_delivered: int = 0
    forwards_not_received: int = 0
    """Delivered by the hub's account but never seen by the receiver."""
    forwards_twice: int = 0
    """(rule, message, event) with more than one delivery record."""
    receiver_repeats: int = 0
    """Delivery ids the receiver got more than once: retries, which it de-duplicates (not counted)."""
    drain_s: float = 0.0
    stuck: list[str] = field(default_factory=list)
    """A few of what was still owed when counting, to look up in the hub's logs."""

    @property
    def lost(self) -> int:
        return (
            self.replies_not_delivered
            + self.forwards_missing
            + self.forwards_not_delivered
            + self.forwards_not_received
        )

    @property
    def duplicated(self) -> int:
        return self.replies_sent_not_once + self.replies_stored_twice + self.forwards_twice


def _oids(ids: Iterable[str]) -> list[ObjectId]:
    return [ObjectId(i) for i in ids]


def _replies(store: Store, message_ids: list[str]) -> list[dict[str, Any]]:
    return list(
        store.db["messages"].find(
            {"_id": {"$in": _oids(message_ids)}}, {"status": 1, "status_history.status": 1, "client_id": 1}
        )
    )


def _deliveries(store: Store, message_ids: list[str]) -> list[dict[str, Any]]:
    return list(
        store.db["forward_deliveries"].find(
            {"message_id": {"$in": _oids(message_ids)}},
            {"status": 1, "message_id": 1, "event": 1, "rule_id": 1},
        )
    )


def _state(
    store: Store, inbound: list[str], replies: dict[str, str], receiver: Receiver
) -> tuple[JobCounts, set[str]]:
    """The counts now, and the ids of the messages with something still pending."""
    jc = JobCounts(replies=len(replies))
    docs = _replies(store, list(replies.values()))
    jc.replies_not_delivered = len(replies) - sum(1 for d in docs if d.get("status") == "delivered")
    jc.replies_sent_not_once = sum(
        1
        for d in docs
        if d.get("status") == "delivered" and [h["status"] for h in d["status_history"]].count("sent") != 1
    )
    stored = Counter(
        d["client_id"]
        for d in store.db["messages"].find({"client_id": {"$in": sorted(replies)}}, {"client_id": 1})
    )
    jc.replies_stored_twice = sum(n - 1 for n in stored.values() if n > 1)
    rows = _deliveries(store, [*inbound, *replies.values()])
    jc.forwards = len(rows)
    have = {(str(r["message_id"]), r["event"]) for r in rows}
    want = {(m, RECEIVED) for m in inbound} | {(m, e) for m in replies.values() for e in REPLY_EVENTS}
    jc.forwards_missing = len(want - have)
    jc.forwards_not_delivered = sum(1 for r in rows if r["status"] != "delivered")
    per_event = Counter((r["rule_id"], r["message_id"], r["event"]) for r in rows)
    jc.forwards_twice = sum(n - 1 for n in per_event.values() if n > 1)
    arrived = Counter(rec.headers.get("x-hub-delivery") for rec in list(receiver.requests))
    jc.forwards_not_received = sum(
        1 for r in rows if r["status"] == "delivered" and str(r["_id"]) not in arrived
    )
    jc.receiver_repeats = sum(1 for n in arrived.values() if n > 1)
    jc.stuck = [f"reply {d['_id']} {d.get('status')}" for d in docs if d.get("status") != "delivered"][:3]
    jc.stuck += [f"forward missing {m} {e}" for m, e in sorted(want - have)[:3]]
    jc.stuck += [
        f"forward {r['_id']} {r['event']} {r['status']}" for r in rows if r["status"] != "delivered"
    ][:3]
    owed = {str(d["_id"]) for d in docs if d.get("status") != "delivered"}
    owed |= set(replies.values()) - {str(d["_id"]) for d in docs}
    owed |= {m for m, _ in want - have} | {str(r["message_id"]) for r in rows if r["status"] != "delivered"}
    return jc, owed


async def drain(
    store: Store, inbound: list[str], replies: dict[str, str], receiver: Receiver, timeout: float
) -> JobCounts:
    """Wait (up to `timeout`) until the given replies are delivered and their forwards and the inbound
    messages' forwards are delivered, then count; what is still pending then is lost.

    While waiting only the messages still owed are asked about, every 5 s: SecantusDB shares the machine
    with the hubs, and a count that kept reading everything would slow the very jobs it waits for."""
    start = time.monotonic()
    owed: set[str] | None = None
    while True:
        if owed is not None:
            some_inbound = [m for m in inbound if m in owed]
            some_replies = {c: m for c, m in replies.items() if m in owed}
            with contextlib.suppress(PyMongoError):  # the database just came back; ask again
                _, owed = await asyncio.to_thread(_state, store, some_inbound, some_replies, receiver)
        if owed is None or not owed or time.monotonic() - start > timeout:
            for _ in range(10):
                try:
                    jc, owed = await asyncio.to_thread(_state, store, inbound, replies, receiver)
                    break
                except PyMongoError:
                    await asyncio.sleep(3)
            else:
                raise RuntimeError("the database did not answer the count")
            if not owed or time.monotonic() - start > timeout:
                jc.drain_s = round(time.monotonic() - start, 1)
                return jc
        await asyncio.sleep(5)
