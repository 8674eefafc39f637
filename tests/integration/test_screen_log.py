"""A screen's event log keeps what a resuming screen can be replayed, trimmed as it grows.

No TTL index: SecantusDB's expiry sweep decodes every document of the collection once a minute,
a cost that grows with every text a screen ever showed. The log is trimmed by ranges of seq.
"""

from __future__ import annotations

import dataclasses

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import display_events as dev
from hub.realtime.bus import now_iso
from hub.services import displays as svc
from hub.store.displays import LOG_TRIM_EVERY, DisplayEventRecord, drop_log_expiry


def _event(display_id: PydanticObjectId, seq: int) -> dev.DisplayRemoved:
    return dev.DisplayRemoved(
        seq=seq, display_id=str(display_id), at=now_iso(), data=dev.RemovedPayload(id="x")
    )


async def test_the_log_keeps_its_latest_events_and_no_expiry_index(hub: HubContext) -> None:
    realtime = dataclasses.replace(hub.settings.realtime, resume_limit=10)
    small = dataclasses.replace(hub, settings=dataclasses.replace(hub.settings, realtime=realtime))
    kept = svc.log_kept(small)
    display_id = PydanticObjectId()
    # A trim runs at every multiple of LOG_TRIM_EVERY: end on one.
    head = LOG_TRIM_EVERY * (kept // LOG_TRIM_EVERY + 4)
    for seq in range(1, head + 1):
        await svc.record(small, _event(display_id, seq))
    seqs = sorted(e.seq for e in await DisplayEventRecord.find({"display_id": display_id}).to_list())
    # Everything a screen can still resume from is there; what is older than the last trim is not.
    assert seqs == list(range(head - kept + 1, head + 1))
    assert await svc.holds_after(display_id, head - realtime.resume_limit)
    assert len(await svc.since(display_id, head - realtime.resume_limit, realtime.resume_limit)) == 10

    events = DisplayEventRecord.get_pymongo_collection()
    indexes = [index async for index in await events.list_indexes()]
    assert not [i for i in indexes if "expireAfterSeconds" in i], indexes


async def test_a_database_of_an_earlier_version_loses_the_expiry_index(hub: HubContext) -> None:
    events = DisplayEventRecord.get_pymongo_collection()
    await events.create_index([("at", 1)], expireAfterSeconds=7 * 24 * 3600)
    await drop_log_expiry()
    await drop_log_expiry()  # and again, as every start does
    assert "at_1" not in [index["name"] async for index in await events.list_indexes()]
