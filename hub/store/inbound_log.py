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

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WAITING = {"held_until": {"$gte": EPOCH}}
"""Entries not routed yet: a range on the lease index, which routed entries (None) are outside of."""


class InboundEntry(Document):
    provider: str
    provider_message_id: str
    sender: str
    """As normalised when accepted (E.164 or a short code)."""
    recipient: str
    text: str
    received_at: datetime
    accepted_at: datetime
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
            IndexModel([("held_until", ASCENDING)]),
            IndexModel([("done_at", ASCENDING)]),
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
    ops = [UpdateOne({"_id": entry_id}, {"$set": {**done, "routed": record}}) for entry_id, record in routed]
    ops += [
        UpdateOne({"_id": entry_id}, {"$set": {**done, "refused": reason}}) for entry_id, reason in refused
    ]
    if ops:
        await collection().bulk_write(ops, ordered=False)


async def renew(holder: str, ids: list[Any], until: datetime) -> None:
    """Extend this process's lease on the entries it still has waiting."""
    if ids:
        await collection().update_many(
            {"_id": {"$in": ids}, "holder": holder, "done_at": None}, {"$set": {"held_until": until}}
        )


async def take_over(holder: str, now: datetime, until: datetime, limit: int) -> list[Doc]:
    """Claim waiting entries whose lease ran out (their process died), oldest first."""
    expired = (
        await collection()
        .find(
            {"held_until": {"$gte": WAITING["held_until"]["$gte"], "$lt": now}}, {"_id": 1, "held_until": 1}
        )
        .sort("held_until", ASCENDING)
        .limit(limit)
        .to_list(None)
    )
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


async def forget(before: datetime) -> int:
    """Delete the entries routed or refused before `before`; returns how many."""
    result = await collection().delete_many({"done_at": {"$lt": before}})
    return int(result.deleted_count)
