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


async def test_a_burst_of_concurrent_publishes_reaches_every_subscriber(make_fanout) -> None:  # type: ignore[no-untyped-def]
    # More publishes at once than redis-py's default pool has connections (100): none may fail.
    fanout = await make_fanout(queue_size=1000)
    channel = f"t:{uuid.uuid4().hex}"
    burst = 400
    async with fanout.subscribe(channel) as sub:
        await asyncio.sleep(0.05)
        await asyncio.gather(*(fanout.publish(channel, str(i).encode()) for i in range(burst)))
        got = [await asyncio.wait_for(sub.get(), 5) for _ in range(burst)]
    assert sorted(got) == sorted(str(i).encode() for i in range(burst))


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


# The in-process backend is one process by design: only Redis joins two.
@pytest.mark.parametrize("make_fanout", ["redis"], indirect=True)
async def test_across_two_fanouts_when_redis(make_fanout) -> None:  # type: ignore[no-untyped-def]
    """Two processes' fan-outs: what one publishes the other delivers (Redis only)."""
    assert make_fanout.kind == "redis"
    first, second = await make_fanout(), await make_fanout()
    channel = f"t:{uuid.uuid4().hex}"
    async with second.subscribe(channel) as sub:
        await asyncio.sleep(0.1)
        await first.publish(channel, b"cross")
        assert await asyncio.wait_for(sub.get(), 5) == b"cross"


async def test_redis_outage_refuses_new_subscribers_then_recovers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Redis dies: subscribers are told to resume, newcomers are refused; it returns: all works again."""
    import shutil
    import subprocess

    from tests.conftest import free_port

    server = shutil.which("redis-server")
    assert server, "redis-server is needed for this test"
    port = free_port()
    argv = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis as sync_redis

        for _ in range(100):
            try:
                sync_redis.Redis(port=port).ping()
                return proc
            except sync_redis.ConnectionError:
                import time

                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    proc = start()
    backends = RedisBackends(f"redis://127.0.0.1:{port}/0", "outage")
    fanout = Fanout(backends, 100)
    await fanout.start()
    try:
        async with fanout.subscribe("acct") as before:
            await asyncio.sleep(0.05)
            proc.kill()
            proc.wait()
            with pytest.raises(SubscriberClosed, match="restarted"):
                await asyncio.wait_for(before.get(), 10)
        with pytest.raises(SubscriberClosed, match="unavailable"):
            async with fanout.subscribe("acct"):
                pass
        proc = start()
        for _ in range(200):
            if fanout.healthy:
                break
            await asyncio.sleep(0.1)
        assert fanout.healthy
        async with fanout.subscribe("acct") as after:
            await asyncio.sleep(0.05)
            await fanout.publish("acct", b"back")
            assert await asyncio.wait_for(after.get(), 5) == b"back"
        # Each attempt during the outage made a client; all but the working one were closed.
        assert backends.open_clients == 1
        await fanout.stop()
        assert backends.open_clients == 0
    finally:
        await fanout.stop()
        await backends.close()
        proc.kill()
        proc.wait()
