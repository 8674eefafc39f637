"""One suite for both job queues: in process, and saq on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hub.jobs.local import LocalJobQueue
from hub.jobs.saq_queue import SaqJobQueue
from hub.jobs.spec import JobContext, JobQueue, JobSpec


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, dict[str, Any]]] = []
        self.done = asyncio.Event()
        self.fail_times = 0

    async def ok(self, ctx: JobContext, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("ok", ctx["attempt"], kwargs))
        self.done.set()
        return {}

    async def flaky(self, ctx: JobContext, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("flaky", ctx["attempt"], kwargs))
        if ctx["attempt"] <= self.fail_times:
            raise RuntimeError("not yet")
        self.done.set()
        return {}

    async def hopeless(self, ctx: JobContext, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("hopeless", ctx["attempt"], kwargs))
        if ctx["attempt"] >= ctx["max_attempts"]:
            self.done.set()
            return {"gave_up": True}
        raise RuntimeError("never")


def specs(rec: Recorder) -> dict[str, JobSpec]:
    return {
        "ok": JobSpec("ok", rec.ok),
        "flaky": JobSpec("flaky", rec.flaky, max_attempts=5, retry_delay_s=0.05, max_retry_delay_s=0.2),
        "hopeless": JobSpec(
            "hopeless", rec.hopeless, max_attempts=3, retry_delay_s=0.05, max_retry_delay_s=0.1
        ),
    }


@pytest.fixture(params=["local", "saq"])
async def queue_for(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[Callable[[Recorder], Any]]:
    stack = contextlib.AsyncExitStack()

    async def make(rec: Recorder) -> JobQueue:
        if request.param == "local":
            local = LocalJobQueue(specs(rec))
            local.hub = object()  # type: ignore[assignment]
            await local.start()
            stack.push_async_callback(local.stop)
            return local
        saq = SaqJobQueue(redis_url, f"test-{uuid.uuid4().hex}", specs(rec))
        await saq.start()
        worker = saq.worker(object(), concurrency=4)  # type: ignore[arg-type]
        task = asyncio.create_task(worker.start())

        async def stop() -> None:
            await worker.stop()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await saq.stop()

        stack.push_async_callback(stop)
        return saq

    async with stack:
        yield make


async def test_runs_a_job_with_its_arguments(queue_for: Any) -> None:
    rec = Recorder()
    queue = await queue_for(rec)
    await queue.enqueue("ok", message_id="m-1")
    await asyncio.wait_for(rec.done.wait(), 10)
    assert rec.calls == [("ok", 1, {"message_id": "m-1"})]


async def test_failing_job_is_retried_until_it_succeeds(queue_for: Any) -> None:
    rec = Recorder()
    rec.fail_times = 2
    queue = await queue_for(rec)
    await queue.enqueue("flaky", n=1)
    await asyncio.wait_for(rec.done.wait(), 20)
    assert [c[1] for c in rec.calls] == [1, 2, 3]


async def test_last_attempt_is_told_so(queue_for: Any) -> None:
    rec = Recorder()
    queue = await queue_for(rec)
    await queue.enqueue("hopeless")
    await asyncio.wait_for(rec.done.wait(), 20)
    assert [c[1] for c in rec.calls] == [1, 2, 3]


async def test_same_key_while_queued_runs_once(queue_for: Any) -> None:
    rec = Recorder()
    queue = await queue_for(rec)
    await asyncio.gather(
        *(queue.enqueue("ok", key="send:m-2", delay_s=0.5, message_id="m-2") for _ in range(3))
    )
    await asyncio.wait_for(rec.done.wait(), 10)
    # Marker: a job due after every copy would have been; once it ran, a second copy would have too.
    await queue.enqueue("ok", key="marker", delay_s=1.0, message_id="marker")

    async def marker_ran() -> None:
        while not any(c[2].get("message_id") == "marker" for c in rec.calls):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(marker_ran(), 10)
    assert [c[2]["message_id"] for c in rec.calls] == ["m-2", "marker"]


async def test_unknown_job_name_is_an_error(queue_for: Any) -> None:
    queue = await queue_for(Recorder())
    with pytest.raises(KeyError):
        await queue.enqueue("no-such-job")


@pytest.mark.timeout(150)
async def test_scheduled_jobs_run_on_time_under_redis(redis_url: str) -> None:
    """Delayed jobs (forwarding retries, simulated reports) run within a second of their time, never before.

    The delays span several of redis-py's 5 s read timeouts, and the event loop is kept busy in
    bursts as in a loaded hub: a job's id taken off the queue while its worker's read was giving up
    used to sit unseen until saq's 60 s sweep.
    """
    ran: dict[int, float] = {}
    all_ran = asyncio.Event()
    count = 40

    async def record(ctx: JobContext, *, n: int, due: float) -> dict[str, Any]:
        ran[n] = time.time() - due
        if len(ran) == count:
            all_ran.set()
        return {}

    queue = SaqJobQueue(redis_url, f"test-{uuid.uuid4().hex}", {"record": JobSpec("record", record)})
    await queue.start()
    # Many idle workers: many blocking reads, each giving up every few seconds before the fix.
    worker = queue.worker(object(), concurrency=20)  # type: ignore[arg-type]
    task = asyncio.create_task(worker.start())

    async def busy() -> None:
        while True:
            until = time.monotonic() + 0.05
            while time.monotonic() < until:
                pass
            await asyncio.sleep(0.02)

    hog = asyncio.create_task(busy())
    try:
        for n in range(count):
            delay = 0.3 + n * 0.31  # up to ~12.4 s: past two of the client's read timeouts
            await queue.enqueue("record", key=f"on-time-{n}", delay_s=delay, n=n, due=time.time() + delay)
        await asyncio.wait_for(all_ran.wait(), 120)
    finally:
        hog.cancel()
        await worker.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await queue.stop()
    early = sorted(round(lateness, 3) for lateness in ran.values() if lateness < 0)
    late = sorted(round(lateness, 3) for lateness in ran.values() if lateness > 1.0)
    assert (len(early), len(late)) == (0, 0), f"early: {early}; more than 1 s late: {late}"
