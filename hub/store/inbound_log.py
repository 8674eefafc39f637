"""The accept log: every inbound text, durable before its webhook is answered, until it is routed.

One document per provider message (unique on provider and provider id, so a gateway's retry
appends nothing). The process that appended an entry holds it by a lease it keeps renewing while
the entry waits; once the entry's message is stored the entry is deleted, so the log holds only
the backlog. An entry whose process died keeps its lease until it runs out, then any process takes
it over. A routing that refused an entry for good (its number was removed meanwhile) keeps the
entry, with the reason, for the operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING, DeleteOne, IndexModel, UpdateOne

from hub.store.grouped import Finds, Inserts

Doc = dict[str, Any]


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
    """The process that routes it; None once it was refused for good."""
    held_until: datetime
    refused: str | None = None
    """Why routing refused it for good (kept for the operator); None while it waits."""

    class Settings:
        name = "inbound_log"
        indexes = [
            IndexModel([("provider", ASCENDING), ("provider_message_id", ASCENDING)], unique=True),
            IndexModel([("held_until", ASCENDING)]),
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


async def remove(done: list[Any], refused: list[tuple[Any, str]]) -> None:
    """Delete the routed entries and keep the refused ones with their reason, in one round trip."""
    ops: list[DeleteOne | UpdateOne] = [DeleteOne({"_id": entry_id}) for entry_id in done]
    ops += [
        UpdateOne({"_id": entry_id}, {"$set": {"refused": reason, "holder": None}})
        for entry_id, reason in refused
    ]
    if ops:
        await collection().bulk_write(ops, ordered=False)


async def renew(holder: str, ids: list[Any], until: datetime) -> None:
    """Extend this process's lease on the entries it still has waiting."""
    if ids:
        await collection().update_many(
            {"_id": {"$in": ids}, "holder": holder}, {"$set": {"held_until": until}}
        )


async def take_over(holder: str, now: datetime, until: datetime, limit: int) -> list[Doc]:
    """Claim entries whose lease ran out (their process died), oldest first."""
    expired = (
        await collection()
        .find({"held_until": {"$lt": now}, "refused": None}, {"_id": 1, "held_until": 1})
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
    return int(await collection().count_documents({"refused": None}))
