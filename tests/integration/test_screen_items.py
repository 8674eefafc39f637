"""A screen's latest shown items are read by widening windows of sequence numbers, never all items."""

from __future__ import annotations

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.services import displays as svc
from hub.store.displays import DisplayItem


async def _items(display_id: PydanticObjectId, shown: list[int], removed: list[int]) -> None:
    for seq, status in [(s, svc.SHOWN) for s in shown] + [(s, svc.REMOVED) for s in removed]:
        await DisplayItem(
            display_id=display_id,
            account_id=PydanticObjectId(),
            message_id=PydanticObjectId(),
            conversation_id=PydanticObjectId(),
            sender="+48600700900",
            text=f"item {seq}",
            status=status,
            shown_seq=seq,
        ).insert()


async def test_the_latest_shown_items_come_newest_first_across_gaps(hub: HubContext) -> None:
    display_id = PydanticObjectId()
    # Shown items far apart (every 50th number), removed ones between them, and a second screen.
    await _items(display_id, shown=list(range(50, 2001, 50)), removed=list(range(1960, 2000)))
    await _items(PydanticObjectId(), shown=list(range(1, 2001)), removed=[])
    latest = await svc.latest_shown(display_id, 2010, 5)
    assert [i.shown_seq for i in latest] == [2000, 1950, 1900, 1850, 1800]
    # Fewer than asked for: all of them, and the reads stop at the start of the log.
    everything = await svc.latest_shown(display_id, 2010, 100)
    assert [i.shown_seq for i in everything] == list(range(2000, 49, -50))
    # Nothing above the head asked for.
    assert [i.shown_seq for i in await svc.latest_shown(display_id, 1000, 2)] == [1000, 950]
