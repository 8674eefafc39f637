"""One suite for both job queues: in process, and saq on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
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
        worker.timers["schedule"] = 1  # pick up scheduled retries promptly
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
