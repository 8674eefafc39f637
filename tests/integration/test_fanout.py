"""The fan-out, run against both backends: in-process memory and the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend

from hub.bootstrap import RedisBackends
from hub.jobs.saq_queue import SaqJobQueue
from hub.jobs.spec import JobContext, JobSpec
from hub.realtime.fanout import Fanout, SubscriberClosed
from tests.conftest import free_port


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


class PrivateRedis:
    """A redis-server of the test's own, on another port, to kill and restart."""

    def __init__(self, folder: Path) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is needed for this test"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._argv = [
            server,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(self._argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                sync_redis.Redis(port=self.port).ping()
                return
            except sync_redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


async def test_redis_outage_refuses_new_subscribers_then_recovers(tmp_path: Path) -> None:
    """Redis dies: subscribers are told to resume, newcomers are refused; it returns: all works again."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    backends = RedisBackends(redis.url, "outage")
    fanout = Fanout(backends, 100)
    await fanout.start()
    try:
        async with fanout.subscribe("acct") as before:
            await asyncio.sleep(0.05)
            redis.kill()
            with pytest.raises(SubscriberClosed, match="restarted"):
                await asyncio.wait_for(before.get(), 10)
        with pytest.raises(SubscriberClosed, match="unavailable"):
            async with fanout.subscribe("acct"):
                pass
        redis.start()
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
        redis.kill()


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(wait(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


@pytest.mark.timeout(90)
async def test_a_redis_outage_is_logged_once_when_lost_and_once_when_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The fan-out and the job worker each say "lost" once and "back" once, when Redis really is back."""
    caplog.set_level(logging.INFO)
    redis = PrivateRedis(tmp_path)
    redis.start()
    backends = RedisBackends(redis.url, "outage-log")
    made = 0

    def counting() -> ChannelsBackend:
        nonlocal made
        made += 1
        return backends()

    fanout = Fanout(counting, 100)
    await fanout.start()
    ran = asyncio.Event()

    async def ok(ctx: JobContext) -> dict[str, Any]:
        ran.set()
        return {}

    queue = SaqJobQueue(redis.url, f"outage-{uuid.uuid4().hex}", {"ok": JobSpec("ok", ok)})
    await queue.start()
    worker = queue.worker(object())  # type: ignore[arg-type]
    task = asyncio.create_task(worker.start())
    marker = logging.getLogger("tests.outage")
    try:
        async with fanout.subscribe("acct") as sub:
            await asyncio.sleep(0.05)
            marker.info("killing redis")
            redis.kill()
            with pytest.raises(SubscriberClosed, match="restarted"):
                await asyncio.wait_for(sub.get(), 10)
        # Three attempts to reconnect (3.5 s), while saq's upkeep polls five times a second.
        await _until(lambda: made >= 4 or fanout.healthy, "the fan-out retried three times")
        assert not fanout.healthy, "the fan-out called itself back while Redis was down"
        marker.info("restarting redis")
        redis.start()
        await _until(lambda: fanout.healthy, "the fan-out came back")
        await _until(
            lambda: any(r.getMessage() == "job queue: Redis is back" for r in caplog.records),
            "the job queue said Redis is back",
        )
        await queue.enqueue("ok")
        await asyncio.wait_for(ran.wait(), 10)
    finally:
        await worker.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await queue.stop()
        await fanout.stop()
        await backends.close()
        redis.kill()
    messages = [r.getMessage() for r in caplog.records]
    killed, restarted = messages.index("killing redis"), messages.index("restarting redis")
    watched = ("saq", "hub.realtime.fanout", "hub.jobs.redis_watch")
    outage = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records[killed:restarted]
        if r.name.startswith(watched) and r.levelno >= logging.WARNING
    ]
    heads = sorted(line.split(" (")[0] for line in outage)
    assert heads == [
        "hub.jobs.redis_watch: job queue lost Redis",
        "hub.realtime.fanout: fan-out backend lost",
    ], outage
    assert not [r for r in caplog.records if r.name.startswith("saq") and r.exc_info], "saq logged tracebacks"
    back = [
        (i, m) for i, m in enumerate(messages) if m in ("fan-out backend is back", "job queue: Redis is back")
    ]
    assert sorted(m for _, m in back) == ["fan-out backend is back", "job queue: Redis is back"], back
    assert all(i > restarted for i, _ in back), back


async def test_a_fanout_started_while_redis_is_down_waits_for_it(tmp_path: Path) -> None:
    """A process started during an outage runs, refuses subscribers, and fans out once Redis is up."""
    redis = PrivateRedis(tmp_path)
    backends = RedisBackends(redis.url, "late")
    fanout = Fanout(backends, 100)
    await fanout.start()
    try:
        assert not fanout.healthy
        with pytest.raises(SubscriberClosed, match="unavailable"):
            async with fanout.subscribe("acct"):
                pass
        redis.start()
        await _until(lambda: fanout.healthy, "the fan-out came up")
        async with fanout.subscribe("acct") as sub:
            await asyncio.sleep(0.05)
            await fanout.publish("acct", b"up")
            assert await asyncio.wait_for(sub.get(), 5) == b"up"
    finally:
        await fanout.stop()
        await backends.close()
        redis.kill()
