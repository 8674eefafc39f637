"""Reading an append-only event log (an account's, a screen's) from a sequence number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beanie import PydanticObjectId


async def read_since(
    coll: Any, owner: tuple[str, PydanticObjectId], seq: int, limit: int, missing: Sequence[int] = ()
) -> list[bytes]:
    """Encoded events of `owner` after `seq`, plus those of `missing` (holes below `seq` the reader
    still has: an event whose number was taken first may be stored after a later one) that are
    stored now; oldest first, at most `limit` + 1 (to tell truncation).

    Two indexed queries rather than one with `$or`, which makes SecantusDB scan the whole log.
    """
    field, owner_id = owner
    projection = {"payload": 1, "seq": 1, "_id": 0}
    held: list[dict[str, Any]] = []
    if missing:
        cursor = coll.find({field: owner_id, "seq": {"$in": sorted(set(missing))}}, projection=projection)
        held = [doc async for doc in cursor.sort("seq", 1)]
    newer = coll.find({field: owner_id, "seq": {"$gt": seq}}, projection=projection).sort("seq", 1)
    docs = held + [doc async for doc in newer.limit(limit + 1)]
    docs.sort(key=lambda doc: int(doc["seq"]))
    return [bytes(doc["payload"]) for doc in docs[: limit + 1]]
