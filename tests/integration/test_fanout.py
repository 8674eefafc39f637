"""The fan-out, run against both backends: in-process memory and the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from litestar.channels.backends.memory import MemoryChannelsBackend

from hub.context import RedisBackends
from hub.realtime.fanout import Fanout, SubscriberClosed


@pytest.fixture(params=["memory", "redis"])
async def make_fanout(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[object]:
    made: list[Fanout] = []
    memory = MemoryChannelsBackend()
    redis_backends = RedisBackends(redis_url, f"t{uuid.uuid4().hex[:8]}")

    async def make(queue_size: int = 100) -> Fanout:
        if request.param == "memory":
            fanout = Fanout(lambda: memory, queue_size)
        else:
            fanout = Fanout(redis_backends, queue_size)
        await fanout.start()
        made.append(fanout)
        return fanout

    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for f in made:
        await f.stop()
    await redis_backends.close()


async def test_subscribers_get_every_payload_in_order(make_fanout) -> None:  # type: ignore[no-untyped-def]
    fanout = await make_fanout()
    channel = f"t:{uuid.uuid4().hex}"
    async with fanout.subscribe(channel) as one, fanout.subscribe(channel) as two:
        await asyncio.sleep(0.05)
        for i in range(20):
            await fanout.publish(channel, str(i).encode())
        for sub in (one, two):
            got = [await asyncio.wait_for(sub.get(), 5) for _ in range(20)]
            assert got == [str(i).encode() for i in range(20)]


async def test_other_channels_are_not_delivered(make_fanout) -> None:  # type: ignore[no-untyped-def]
    fanout = await make_fanout()
    mine, other = f"t:{uuid.uuid4().hex}", f"t:{uuid.uuid4().hex}"
    async with fanout.subscribe(mine) as sub:
        await asyncio.sleep(0.05)
        await fanout.publish(other, b"not for me")
        await fanout.publish(mine, b"for me")
        assert await asyncio.wait_for(sub.get(), 5) == b"for me"


async def test_slow_subscriber_is_cut_off_and_others_keep_going(make_fanout) -> None:  # type: ignore[no-untyped-def]
    fanout = await make_fanout(queue_size=5)
    channel = f"t:{uuid.uuid4().hex}"
    async with fanout.subscribe(channel) as slow, fanout.subscribe(channel) as fast:
        await asyncio.sleep(0.05)
        received: list[bytes] = []

        async def consume() -> None:
            while len(received) < 50:
                received.append(await fast.get())

        consumer = asyncio.create_task(consume())
        for i in range(50):
            await fanout.publish(channel, str(i).encode())
            await asyncio.sleep(0)
        await asyncio.wait_for(consumer, 5)
        assert received == [str(i).encode() for i in range(50)]
        with pytest.raises(SubscriberClosed, match="slow consumer"):
            while True:
                await asyncio.wait_for(slow.get(), 5)


async def test_across_two_fanouts_when_redis(make_fanout) -> None:  # type: ignore[no-untyped-def]
    """Two processes' fan-outs: what one publishes the other delivers (Redis only)."""
    if make_fanout.kind == "memory":
        pytest.skip("the in-process backend is one process by design")
    first, second = await make_fanout(), await make_fanout()
    channel = f"t:{uuid.uuid4().hex}"
    async with second.subscribe(channel) as sub:
        await asyncio.sleep(0.1)
        await first.publish(channel, b"cross")
        assert await asyncio.wait_for(sub.get(), 5) == b"cross"
