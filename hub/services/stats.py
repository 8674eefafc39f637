"""Statistics, each one MongoDB aggregation over the stored messages."""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from beanie import PydanticObjectId

from hub.store.messages import Message


def _day(field: str, timezone: str) -> dict[str, Any]:
    return {"$dateToString": {"format": "%Y-%m-%d", "date": field, "timezone": timezone}}


async def _aggregate(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cursor = await Message.get_pymongo_collection().aggregate(pipeline)
    return [dict(row) async for row in cursor]


async def keyword_popularity(
    account_id: PydanticObjectId, since: datetime, until: datetime, timezone: str
) -> list[dict[str, Any]]:
    """Messages per keyword per day, by the keyword each inbound message was routed by.

    Only keywords on individual numbers count: statistics are not offered on shared ND/SC numbers.
    """
    rows = await _aggregate(
        [
            {
                "$match": {
                    "account_id": account_id,
                    "direction": "in",
                    "keyword.counted": True,
                    "created_at": {"$gte": since, "$lt": until},
                }
            },
            {
                "$group": {
                    "_id": {"keyword": "$keyword.text", "day": _day("$created_at", timezone)},
                    "messages": {"$sum": 1},
                }
            },
            {"$sort": {"_id.day": 1, "_id.keyword": 1}},
        ]
    )
    return [{"keyword": r["_id"]["keyword"], "day": r["_id"]["day"], "messages": r["messages"]} for r in rows]


async def messages_per_number(
    account_id: PydanticObjectId, since: datetime, until: datetime, timezone: str
) -> list[dict[str, Any]]:
    """Inbound and outbound messages (and outbound SMS segments, which are billed) per number per day."""
    rows = await _aggregate(
        [
            {"$match": {"account_id": account_id, "created_at": {"$gte": since, "$lt": until}}},
            {
                "$group": {
                    "_id": {
                        "number": {"$cond": [{"$eq": ["$direction", "in"]}, "$recipient", "$sender"]},
                        "day": _day("$created_at", timezone),
                        "direction": "$direction",
                    },
                    "messages": {"$sum": 1},
                    "segments": {"$sum": "$segments"},
                }
            },
            {"$sort": {"_id.day": 1, "_id.number": 1}},
        ]
    )
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["_id"]["number"], r["_id"]["day"])
        entry = table.setdefault(
            key, {"number": key[0], "day": key[1], "inbound": 0, "outbound": 0, "segments_out": 0}
        )
        if r["_id"]["direction"] == "in":
            entry["inbound"] += r["messages"]
        else:
            entry["outbound"] += r["messages"]
            entry["segments_out"] += r["segments"]
    return list(table.values())


async def first_response(account_id: PydanticObjectId, since: datetime, until: datetime) -> dict[str, Any]:
    """How long contacts waited for an agent: per conversation with a first inbound message in the
    period, from that message to the first agent reply after it."""
    rows = await _aggregate(
        [
            {"$match": {"account_id": account_id, "created_at": {"$gte": since, "$lt": until}}},
            {"$sort": {"created_at": 1}},
            {
                "$group": {
                    "_id": "$conversation_id",
                    "first_in": {"$min": {"$cond": [{"$eq": ["$direction", "in"]}, "$created_at", None]}},
                    "replies": {
                        "$push": {"$cond": [{"$eq": ["$author.kind", "agent"]}, "$created_at", None]}
                    },
                }
            },
            {"$match": {"first_in": {"$ne": None}}},
        ]
    )
    waits: list[float] = []
    unanswered = 0
    for r in rows:
        later = [at for at in r["replies"] if at is not None and at >= r["first_in"]]
        if later:
            waits.append((min(later) - r["first_in"]).total_seconds())
        else:
            unanswered += 1
    return {
        "conversations": len(rows),
        "answered": len(waits),
        "unanswered": unanswered,
        "median_s": median(waits) if waits else None,
        "mean_s": sum(waits) / len(waits) if waits else None,
        "max_s": max(waits) if waits else None,
    }
