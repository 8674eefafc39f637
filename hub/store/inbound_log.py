"""The accept log: every inbound text, durable before its webhook is answered.

One document per provider message (unique on provider and provider id, so a gateway's retry
appends nothing, and a retry after routing is answered with the stored message). The process
that appended an entry holds it by a lease (`held_until`) it keeps renewing while the entry waits;
an entry whose process died keeps its lease until it runs out, then any process takes it over.
Once routed, an entry records its message and loses its lease (`held_until` None: only waiting
entries are in the lease index's range); a refused one records why. Routed and refused entries are
deleted after a while (`HUB_INGEST_KEEP`), long after any gateway stops retrying.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING, IndexModel, UpdateOne

from hub.store.grouped import Finds, Inserts

Doc = dict[str, Any]

WAITING = {"state": "waiting"}
"""Entries not routed yet. The embedded database answers an equality from an index but scans the
whole collection for a range, so the waiting ones (the backlog, a few) are found by their state and
their leases compared here."""


def day_of(at: datetime) -> str:
    """The bucket an entry is forgotten with (a whole day's entries by one equality on an index)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d")


class InboundEntry(Document):
    provider: str
    provider_message_id: str
    sender: str
    """As normalised when accepted (E.164 or a short code)."""
    recipient: str
    text: str
    received_at: datetime
    accepted_at: datetime
    state: str = "waiting"
    """"waiting", "routed" or "refused"."""
    day: str = ""
    """The UTC day it was accepted (`day_of`)."""
    holder: str | None = None
    """The process that routes it; None once routed or refused."""
    held_until: datetime | None = None
    """Until when `holder` holds it; None once routed or refused."""
    routed: dict[str, Any] | None = None
    """The stored message: `record_id`, `seq`, `matched`."""
    refused: str | None = None
    """Why routing refused it for good (kept for the operator)."""
    done_at: datetime | None = None

    class Settings:
        name = "inbound_log"
        indexes = [
            IndexModel([("provider", ASCENDING), ("provider_message_id", ASCENDING)], unique=True),
            IndexModel([("state", ASCENDING)]),
            IndexModel([("day", ASCENDING)]),
        ]


def collection() -> Any:
    return InboundEntry.get_pymongo_collection()


_appends = Inserts(collection)
_by_key = Finds(collection, ("provider", "provider_message_id"))


async def append(doc: Doc) -> None:
    """Store one entry (with its `_id`); concurrent appends share one `insert_many`.

    Raises:
        DuplicateKeyError: the provider's message is in the log already.
    """
    await _appends.insert(doc)


async def find(provider: str, provider_message_id: str) -> Doc | None:
    return await _by_key.find_one(provider, provider_message_id)


async def finish(routed: list[tuple[Any, Doc]], refused: list[tuple[Any, str]], now: datetime) -> None:
    """Record the batch's routed entries (with their message) and refused ones, in one round trip."""
    done = {"holder": None, "held_until": None, "done_at": now}
    ops = [UpdateOne({"_id": i}, {"$set": {**done, "state": "routed", "routed": r}}) for i, r in routed]
    ops += [UpdateOne({"_id": i}, {"$set": {**done, "state": "refused", "refused": r}}) for i, r in refused]
    if ops:
        await collection().bulk_write(ops, ordered=False)


async def renew(holder: str, ids: list[Any], until: datetime) -> None:
    """Extend this process's lease on the entries it still has waiting."""
    if ids:
        await collection().update_many(
            {"_id": {"$in": ids}, "holder": holder, "state": "waiting"}, {"$set": {"held_until": until}}
        )


async def take_over(holder: str, now: datetime, until: datetime, limit: int) -> list[Doc]:
    """Claim waiting entries whose lease ran out (their process died), oldest first."""
    waiting = await collection().find(WAITING, {"_id": 1, "held_until": 1, "accepted_at": 1}).to_list(None)
    expired = sorted((d for d in waiting if d["held_until"] < now), key=lambda d: d["held_until"])[:limit]
    claimed: list[Any] = []
    for doc in expired:
        # Compare-and-set on the old lease: of two processes taking over, one wins each entry.
        result = await collection().update_one(
            {"_id": doc["_id"], "held_until": doc["held_until"]},
            {"$set": {"holder": holder, "held_until": until}},
        )
        if result.modified_count:
            claimed.append(doc["_id"])
    if not claimed:
        return []
    docs = await collection().find({"_id": {"$in": claimed}}).to_list(None)
    return sorted(docs, key=lambda d: (d["accepted_at"], d["_id"]))


async def waiting() -> int:
    """Entries not yet routed, in every process."""
    return int(await collection().count_documents(WAITING))


async def forget(days: list[str]) -> int:
    """Delete the routed and refused entries accepted on these UTC days; returns how many."""
    if not days:
        return 0
    result = await collection().delete_many({"day": {"$in": days}, "state": {"$in": ["routed", "refused"]}})
    return int(result.deleted_count)
