"""The in-process job queue stops whatever moment its workers are cancelled at."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.jobs.local import LocalJobQueue
from hub.jobs.spec import JobSpec


async def test_stop_returns_when_cancelled_as_a_job_finishes() -> None:
    done = 0

    async def quick(ctx: Any, **kwargs: Any) -> None:
        nonlocal done
        await asyncio.sleep(0)
        done += 1

    # Stopping after 0 to 4 loop turns lands the cancellation before, during and just as the job ends;
    # the last is where a swallowed cancellation left stop() waiting for ever.
    for attempt in range(200):
        queue = LocalJobQueue({"q": JobSpec("q", quick)}, concurrency=1)
        queue.hub = object()
        await queue.enqueue("q")
        await queue.start()
        for _ in range(attempt % 5):
            await asyncio.sleep(0)
        stopping = asyncio.create_task(queue.stop())
        finished, _ = await asyncio.wait({stopping}, timeout=10)
        assert stopping in finished, f"stop() hung at attempt {attempt}"
    assert done > 0
