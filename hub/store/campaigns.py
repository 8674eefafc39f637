"""Campaigns and their recipients ("targets").

Every query here leads with an equality on an index (SecantusDB answers a range or a sort only
behind one, and scans the collection for a `$or`), and, since it reads everything a filter selects
before sorting and limiting, reads of a campaign's recipients are bounded ranges of their build
order `n`: the batch job reads the next batch's range, the recipients list and the report read
a range at a time. A delivery report finds its target by message, a reply by (phone, campaign),
and a reply on an individual number the latest target of (phone, sender number). Counters move with `$inc`
alone, so concurrent batch jobs, delivery reports and replies never overwrite each other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from hub.store.accounts import utcnow
from hub.store.messages import StoredMedia

STATUSES = ("building", "draft", "scheduled", "running", "paused", "waiting", "done", "cancelled")
LIVE = ("scheduled", "running", "waiting", "paused")
TARGET_STATUSES = ("queued", "sent", "delivered", "failed", "skipped")
COUNTS = ("recipients", *TARGET_STATUSES, "replied", "opted_out")


class SenderModel(BaseModel):
    kind: str
    """"number", "2way", "eco" or "name"."""
    number_id: str | None = None
    name: str | None = None
    label: str = ""
    number: str | None = None
    """The number's E.164 (kind "number")."""
    provider: str = "simulator"


class WindowModel(BaseModel):
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    tz: str

    model_config = {"populate_by_name": True}


class ScheduleModel(BaseModel):
    start_at: datetime | None = None
    window: WindowModel | None = None
    rate_per_minute: int | None = None


class Campaign(Document):
    account_id: PydanticObjectId
    name: str
    text: str
    media: list[StoredMedia] = Field(default_factory=list)
    """The files an MMS campaign attaches to every recipient's message (one stored copy each)."""
    sender: SenderModel
    replies: str
    schedule: ScheduleModel
    status: str = "draft"
    paused_reason: str | None = None
    """Why the hub paused it by itself (the account's usage limits or suspension)."""
    counts: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    excluded: dict[str, int] = Field(default_factory=dict)
    segments_total: int = 0
    units_total: int | None = None
    batch: int = 0
    """The number of the batch job that may run next: a job carrying another one is stale."""
    cursor: int = 0
    """Every recipient numbered below it has been handed to the sender (or skipped)."""
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_send_at: datetime | None = None
    building_seen_at: datetime | None = None
    """While `building`: when the build last wrote (an old one died part-way)."""

    class Settings:
        name = "campaigns"
        indexes = [IndexModel([("account_id", ASCENDING), ("created_at", DESCENDING)])]


class CampaignTarget(Document):
    """One recipient of a campaign. `stage` is the send's progress ("pending": not handed to the
    sender yet; "handed": its message is stored and queued, or it was skipped); `status` is what
    the page shows."""

    campaign_id: PydanticObjectId
    account_id: PydanticObjectId
    n: int
    phone: str
    name: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    stage: str = "pending"
    status: str = "queued"
    reason: str | None = None
    sender: str | None = None
    message_id: PydanticObjectId | None = None
    conversation_id: PydanticObjectId | None = None
    segments: int = 0
    claimed_at: datetime | None = None
    """When a sender-name send took it (stage "sending")."""
    handed_at: datetime | None = None
    """When its message was stored and queued (replies to a number are matched by it)."""
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    replied_at: datetime | None = None
    reply_text: str | None = None
    opted_out: bool = False
    moved_at: datetime | None = None
    """When its status last changed (a recount leaves a campaign alone while its recipients move)."""

    class Settings:
        name = "campaign_targets"
        indexes = [
            # Every read of a campaign's recipients is a bounded range of `n` on this one.
            IndexModel([("campaign_id", ASCENDING), ("n", ASCENDING)], unique=True),
            # A reply: phone first, so that the database picks this index (it picks by the
            # filter's first field) and not the campaign's whole range.
            IndexModel([("phone", ASCENDING), ("campaign_id", ASCENDING)]),
            IndexModel([("message_id", ASCENDING)]),
            IndexModel([("phone", ASCENDING), ("sender", ASCENDING), ("handed_at", DESCENDING)]),
        ]


def targets() -> Any:
    return CampaignTarget.get_pymongo_collection()


def campaigns() -> Any:
    return Campaign.get_pymongo_collection()


async def count(campaign_id: PydanticObjectId | None, changes: dict[str, int]) -> None:
    """Move the campaign's counters by `changes` (zero entries left out)."""
    inc = {f"counts.{k}": v for k, v in changes.items() if v}
    if inc:
        await campaigns().update_one({"_id": campaign_id}, {"$inc": inc})


async def move_target(
    target_id: Any, campaign_id: PydanticObjectId, old: str, new: str, fields: dict[str, Any]
) -> bool:
    """Compare-and-set a target's status from `old` to `new` and move the counters once."""
    result = await targets().update_one(
        {"_id": target_id, "status": old}, {"$set": {"status": new, "moved_at": utcnow(), **fields}}
    )
    if result.modified_count != 1:
        return False
    await count(campaign_id, {old: -1, new: 1})
    return True


RECOUNT_CHUNK = 1000
RECOUNT_QUIET = timedelta(seconds=1)
"""A recount waits until no recipient of the campaign moved for this long: a status change and
its `$inc` are two writes, a few milliseconds apart in a live process."""


async def recount(campaign_id: PydanticObjectId | None) -> bool:
    """Set the campaign's counters to what its recipients say (a process killed between a
    recipient's move and its `$inc` left them off). Reads the recipients a range of `n` at a
    time; changes nothing (False) while recipients are moving or the counters move under it."""
    for _ in range(3):
        doc = await campaigns().find_one({"_id": campaign_id}, {"counts": 1})
        if doc is None:
            return False
        before = doc.get("counts") or {}
        total = int(before.get("recipients", 0))
        found = dict.fromkeys(COUNTS, 0)
        found["recipients"] = total
        last: datetime | None = None
        for lo in range(0, total, RECOUNT_CHUNK):
            pipeline = [
                {"$match": {"campaign_id": campaign_id, "n": {"$gte": lo, "$lt": lo + RECOUNT_CHUNK}}},
                {
                    "$group": {
                        "_id": "$status",
                        "n": {"$sum": 1},
                        "replied": {"$sum": {"$cond": [{"$gt": ["$replied_at", None]}, 1, 0]}},
                        "opted_out": {"$sum": {"$cond": ["$opted_out", 1, 0]}},
                        "moved": {"$max": "$moved_at"},
                    }
                },
            ]
            async for row in await targets().aggregate(pipeline):
                if row["_id"] in TARGET_STATUSES:
                    found[row["_id"]] += int(row["n"])
                found["replied"] += int(row["replied"])
                found["opted_out"] += int(row["opted_out"])
                moved = row.get("moved")
                if moved is not None and (last is None or moved > last):
                    last = moved
        if last is not None and _aware(last) > utcnow() - RECOUNT_QUIET:
            return False
        if all(int(before.get(k, 0)) == v for k, v in found.items()):
            return True
        result = await campaigns().update_one(
            {"_id": campaign_id, "counts": before}, {"$set": {"counts": found}}
        )
        if result.modified_count == 1:
            return True
    return False


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
