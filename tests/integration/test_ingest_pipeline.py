"""The accept log and its pipeline against the real database: durability before routing, the
order of each sender's texts, take-over of a dead process's entries, back-pressure."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from hub.context import HubContext
from hub.domain.messages import InboundMessage
from hub.services.errors import Busy, NotFound
from hub.services.ingest_pipeline import Accepted, IngestPipeline, Outcome
from hub.settings import IngestSettings
from hub.store import inbound_log
from hub.store.inbound_log import WAITING, InboundEntry


def text(n: int, sender: str = "+48600100001", body: str | None = None) -> InboundMessage:
    return InboundMessage(
        provider="generic",
        provider_message_id=f"p-{n}",
        sender=sender,
        recipient="+48500100100",
        text=body if body is not None else f"t{n}",
        received_at=datetime.now(UTC),
    )


class Router:
    """A route that records what it was given, and waits at a gate when one is closed."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next: Exception | None = None
        self.jitter = random.Random(7)

    async def __call__(self, msg: InboundMessage) -> Outcome:
        await self.gate.wait()
        # Texts take different times to route, as they do against a database: a pipeline that
        # ran one sender's texts side by side would finish them out of order.
        await asyncio.sleep(self.jitter.random() * 0.004)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.seen.append(msg.provider_message_id)
        return Outcome(
            record_id=f"m-{msg.provider_message_id}", created=True, seq=len(self.seen), matched=True
        )


async def until(check: Callable[[], object], seconds: float = 6.0) -> None:
    """Wait for `check` to hold (what the pipeline does runs behind the caller's back)."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the pipeline did not get there in time")


def pipeline(router: Router, **changes: object) -> IngestPipeline:
    return IngestPipeline(dataclasses.replace(IngestSettings(), **changes), router)  # type: ignore[arg-type]


async def test_a_text_is_in_the_log_before_it_is_routed_and_gone_after(hub: HubContext) -> None:
    router = Router()
    router.gate.clear()
    p = pipeline(router, answer_wait_s=0.2)
    await p.start()
    try:
        result = await p.accept(text(1))
        assert isinstance(result, Accepted) and result.created
        entry = await InboundEntry.find_one({"provider_message_id": "p-1"})
        assert entry is not None and entry.holder == p.holder and entry.text == "t1"
        assert p.lag == 1
        again = await p.accept(text(1))
        assert isinstance(again, Accepted) and again.created is False, "a repeat is answered as a repeat"
        assert again.entry_id == result.entry_id and p.lag == 1
        router.gate.set()
        await until(lambda: p.lag == 0)
        assert router.seen == ["p-1"], "routed once"
        assert await InboundEntry.find(WAITING).count() == 0
        assert p.lag == 0 and p.lag_s() == 0.0
    finally:
        await p.stop()


async def test_each_senders_texts_are_routed_in_order_and_senders_together(hub: HubContext) -> None:
    router = Router()
    router.gate.clear()
    p = pipeline(router, answer_wait_s=0.0)
    await p.start()
    try:
        for n in range(30):
            await p.accept(text(n, sender=f"+4860010000{n % 3}"))
        router.gate.set()
        await until(lambda: len(router.seen) == 30)
        for s in range(3):
            mine = [m for m in router.seen if int(m.removeprefix("p-")) % 3 == s]
            assert mine == [f"p-{n}" for n in range(s, 30, 3)]
        assert sorted(router.seen) == sorted(f"p-{n}" for n in range(30))
    finally:
        await p.stop()


async def test_a_passing_failure_is_routed_again_and_a_refusal_is_kept(hub: HubContext) -> None:
    router = Router()
    p = pipeline(router, answer_wait_s=5.0)
    await p.start()
    try:
        router.fail_next = ConnectionError("database away")
        result = await p.accept(text(1))
        assert isinstance(result, Outcome), "the retry within the answer's wait stored it"
        assert router.seen == ["p-1"]
        router.fail_next = NotFound("no number +48500100100 is configured on this hub")
        with pytest.raises(NotFound):
            await p.accept(text(2))
        kept = await InboundEntry.find_one({"provider_message_id": "p-2"})
        assert kept is not None and kept.refused and "no number" in kept.refused
        with pytest.raises(NotFound):
            await p.accept(text(2))
        assert p.lag == 0
    finally:
        await p.stop()


async def test_a_dead_processs_texts_are_taken_over_once_its_lease_runs_out(hub: HubContext) -> None:
    dead_router = Router()
    dead_router.gate.clear()
    dead = pipeline(dead_router, answer_wait_s=0.0, lease_s=1.0)
    await dead.start()
    for n in range(5):
        assert isinstance(await dead.accept(text(n)), Accepted)
    # The process dies: its tasks stop without routing or releasing anything.
    for task in dead._tasks:
        task.cancel()
    await asyncio.gather(*dead._tasks, return_exceptions=True)

    router = Router()
    heir = pipeline(router, lease_s=1.0)
    await heir.start()
    try:
        await until(lambda: len(router.seen) == 5 and heir.lag == 0)
        assert await InboundEntry.find(WAITING).count() == 0
        assert router.seen == [f"p-{n}" for n in range(5)], "taken over once each, in order"
        assert heir.taken_over == 5 and dead_router.seen == []
    finally:
        await heir.stop()


async def test_an_accept_only_process_leaves_its_texts_to_the_others_at_once(hub: HubContext) -> None:
    front = pipeline(Router(), process=False)
    await front.start()
    assert isinstance(await front.accept(text(7)), Accepted)
    router = Router()
    back = pipeline(router)
    await back.start()
    try:
        await until(lambda: router.seen)
        assert router.seen == ["p-7"]
    finally:
        await back.stop()
        await front.stop()


async def test_past_the_backlog_limit_texts_are_refused_and_nothing_is_stored(hub: HubContext) -> None:
    router = Router()
    router.gate.clear()
    p = pipeline(router, answer_wait_s=0.0, max_lag=3)
    await p.start()
    try:
        for n in range(3):
            assert isinstance(await p.accept(text(n)), Accepted)
        with pytest.raises(Busy) as refused:
            await p.accept(text(3))
        assert refused.value.retry_after_s > 0 and refused.value.extra["lag"] == 3
        assert await InboundEntry.find({"provider_message_id": "p-3"}).count() == 0
        router.gate.set()
        await until(lambda: p.lag == 0)
        assert isinstance(await p.accept(text(3)), Outcome | Accepted), "room again once routed"
    finally:
        await p.stop()


async def test_stopping_hands_the_rest_over_at_once(hub: HubContext) -> None:
    router = Router()
    router.gate.clear()
    p = pipeline(router, answer_wait_s=0.0, lease_s=60.0)
    await p.start()
    await p.accept(text(1))
    await p.stop(drain_s=0.1)
    entry = await InboundEntry.find_one({"provider_message_id": "p-1"})
    assert entry is not None and entry.held_until <= datetime.now(UTC)
    heir_router = Router()
    heir = pipeline(heir_router, lease_s=60.0)
    await heir.start()
    try:
        await until(lambda: heir_router.seen)
        assert heir_router.seen == ["p-1"], "not left waiting for a 60 s lease"
    finally:
        await heir.stop()


async def test_after_a_passing_failure_a_senders_later_text_still_comes_after(hub: HubContext) -> None:
    """The failed text is routed again before anything accepted after it, across batches."""
    router = Router()
    router.gate.clear()
    p = pipeline(router, answer_wait_s=0.0, batch=1)
    await p.start()
    try:
        router.fail_next = ConnectionError("database away")
        await p.accept(text(1))
        await p.accept(text(2))
        await p.accept(text(3, sender="+48600100002"))
        router.gate.set()
        await until(lambda: len(router.seen) == 3)
        assert router.seen == ["p-1", "p-2", "p-3"]
    finally:
        await p.stop()


async def test_entries_are_forgotten_by_day_and_waiting_ones_never(hub: HubContext) -> None:
    router = Router()
    p = pipeline(router, answer_wait_s=5.0)
    await p.start()
    try:
        await p.accept(text(1))
        await p.accept(text(2))
        router.gate.clear()
        await p.accept(text(3))
        old = "2026-01-02"
        await InboundEntry.get_pymongo_collection().update_many({}, {"$set": {"day": old}})
        assert await inbound_log.forget(["2026-01-01"]) == 0
        assert await inbound_log.forget([old]) == 2, "the two routed entries of that day"
        left = await InboundEntry.find_all().to_list()
        assert [e.provider_message_id for e in left] == ["p-3"] and left[0].state == "waiting"
        router.gate.set()
    finally:
        await p.stop()


async def test_a_text_that_fails_to_route_again_and_again_is_given_up_not_holding_the_rest(
    hub: HubContext,
) -> None:
    """A fault of the hub on one text: kept in the log with the error after a few attempts, and the
    texts behind it are routed; a database away is waited out however long it takes."""
    router = Router()
    poison = text(1, body="zepsuty")
    original = router.__call__

    async def route(msg: InboundMessage) -> Outcome:
        if msg.text == "zepsuty":
            raise KeyError("a bug on this text")
        return await original(msg)

    p = IngestPipeline(dataclasses.replace(IngestSettings(), answer_wait_s=0.0), route)
    await p.start()
    try:
        await p.accept(poison)
        await p.accept(text(2))
        await until(lambda: p.lag == 0, seconds=15)
        assert router.seen == ["p-2"]
        kept = await InboundEntry.find_one({"provider_message_id": "p-1"})
        assert kept is not None and kept.state == "refused" and "a bug on this text" in (kept.refused or "")
    finally:
        await p.stop()
