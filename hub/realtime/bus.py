"""The one place real-time events leave the hub.

Durable events are written to the account's event log in MongoDB first and published after;
a subscriber that misses a publish (a Redis hiccup, a reconnect) replays it from the log.
"""

from __future__ import annotations

from datetime import UTC, datetime

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain import events as ev
from hub.realtime.fanout import Fanout
from hub.store.events import EventRecord
from hub.store.sequences import current_seq


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class EventBus:
    def __init__(self, fanout: Fanout, prefix: str) -> None:
        self.fanout = fanout
        self.prefix = prefix

    def account_channel(self, account_id: PydanticObjectId | str) -> str:
        return f"{self.prefix}:account:{account_id}"

    async def record(self, event: ev.DurableEvent) -> bool:
        """Store a durable event in the log, then publish it.

        Returns:
            False when an event with that sequence number was already recorded (a retried
            request finishing work another attempt began); nothing is published then.
        """
        payload = ev.encode_event(event)
        record = EventRecord(
            account_id=PydanticObjectId(event.account_id),
            seq=event.seq,
            type=str(type(event).__struct_config__.tag),
            payload=payload,
        )
        try:
            await record.insert()
        except DuplicateKeyError:
            return False
        await self.fanout.publish(self.account_channel(event.account_id), payload)
        return True

    async def ephemeral(self, account_id: PydanticObjectId, event: ev.EphemeralEvent) -> None:
        """Publish an event that is not kept (typing, presence)."""
        await self.fanout.publish(self.account_channel(account_id), ev.encode_event(event))

    async def head(self, account_id: PydanticObjectId) -> int:
        return await current_seq(account_id)

    async def since(self, account_id: PydanticObjectId, seq: int, limit: int) -> list[bytes]:
        """Encoded durable events after `seq`, oldest first, at most `limit` + 1 (to tell truncation)."""
        cursor = (
            EventRecord.get_pymongo_collection()
            .find({"account_id": account_id, "seq": {"$gt": seq}}, projection={"payload": 1, "_id": 0})
            .sort("seq", 1)
            .limit(limit + 1)
        )
        return [bytes(doc["payload"]) async for doc in cursor]
