"""The one place real-time events leave the hub.

Durable events are written to the account's event log in MongoDB first and published after;
a subscriber that misses a publish (a Redis hiccup, a reconnect) replays it from the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain import events as ev
from hub.metrics import EVENTS_PUBLISHED
from hub.realtime.fanout import Fanout
from hub.store.accounts import utcnow
from hub.store.event_log import holds_after, read_since
from hub.store.events import EventRecord
from hub.store.grouped import Inserts
from hub.store.sequences import current_seq

# Concurrent requests write their events in one insert (hub.store.grouped).
_records = Inserts(EventRecord.get_pymongo_collection)


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
            request finishing work another attempt began); it is published again then.
        """
        payload = ev.encode_event(event)
        kind = str(type(event).__struct_config__.tag)
        record = {
            "_id": ObjectId(),
            "account_id": PydanticObjectId(event.account_id),
            "seq": event.seq,
            "type": kind,
            "payload": payload,
            "at": utcnow(),
        }
        created = True
        try:
            await _records.insert(record)
        except DuplicateKeyError:
            # Recorded by an earlier attempt that may have died before publishing: publish again.
            # Sockets and clients skip a seq they have already seen.
            created = False
        await self.fanout.publish(self.account_channel(event.account_id), payload)
        EVENTS_PUBLISHED.labels(kind).inc()
        return created

    async def ephemeral(self, account_id: PydanticObjectId, event: ev.EphemeralEvent) -> None:
        """Publish an event that is not kept (typing, presence)."""
        await self.fanout.publish(self.account_channel(account_id), ev.encode_event(event))
        EVENTS_PUBLISHED.labels(str(type(event).__struct_config__.tag)).inc()

    async def head(self, account_id: PydanticObjectId) -> int:
        return await current_seq(account_id)

    async def since(
        self, account_id: PydanticObjectId, seq: int, limit: int, missing: Sequence[int] = ()
    ) -> list[bytes]:
        """Encoded durable events after `seq`, plus those of `missing` (holes the client still has
        below `seq`) that are stored now; oldest first, at most `limit` + 1 (to tell truncation)."""
        log = EventRecord.get_pymongo_collection()
        return await read_since(log, ("account_id", account_id), seq, limit, missing)

    async def has(self, account_id: PydanticObjectId, seq: int) -> bool:
        found = await EventRecord.get_pymongo_collection().find_one(
            {"account_id": account_id, "seq": seq}, projection={"_id": 1}
        )
        return found is not None

    async def holds_after(self, account_id: PydanticObjectId, since: int) -> bool:
        """Whether the log still holds the events after `since` (see `event_log.holds_after`)."""
        return await holds_after(EventRecord.get_pymongo_collection(), ("account_id", account_id), since)
