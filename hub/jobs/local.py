"""In-process job queue: the embedded default when no Redis is configured.

Jobs live in memory, so a crash loses queued and scheduled jobs; the start-up sweeps
(`workers.run.enqueue_start_up_sweeps`) find in MongoDB what they were to do and enqueue it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from typing import Any

from hub.jobs.spec import Backlog, JobContext, JobQueue, JobSpec
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class LocalJobQueue(JobQueue):
    def __init__(self, specs: dict[str, JobSpec], concurrency: int = 8) -> None:
        self._specs = specs
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], int]] = asyncio.Queue()
        self._due_at: deque[float] = deque()
        """When each job on `_queue` became due (monotonic), in the queue's own order."""
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.Task[None]] = set()
        self._keys: set[str] = set()
        self._concurrency = concurrency
        self.hub: object | None = None
        """Handed to every job as `ctx["hub"]`; set before `start()`."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._pending = 0

    async def enqueue(
        self, name: str, *, key: str | None = None, delay_s: float = 0.0, **kwargs: Any
    ) -> None:
        if name not in self._specs:
            raise KeyError(f"no job named {name!r}")
        if key is not None:
            # Same key while queued or running: one job, as saq does.
            if key in self._keys:
                return
            self._keys.add(key)
            kwargs = {**kwargs, "__key": key}
        self._pending += 1
        self._idle.clear()
        self._schedule(name, kwargs, 1, delay_s)

    def _schedule(self, name: str, kwargs: dict[str, Any], attempt: int, delay_s: float) -> None:
        if delay_s <= 0:
            self._put(name, kwargs, attempt)
            return

        async def later() -> None:
            await asyncio.sleep(delay_s)
            self._put(name, kwargs, attempt)

        task = asyncio.create_task(later())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _put(self, name: str, kwargs: dict[str, Any], attempt: int) -> None:
        self._due_at.append(time.monotonic())
        self._queue.put_nowait((name, kwargs, attempt))

    async def backlog(self) -> Backlog:
        oldest = time.monotonic() - self._due_at[0] if self._due_at else None
        return Backlog(queue="local", queued=len(self._due_at), oldest_age_s=oldest)

    async def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"job-worker-{i}") for i in range(self._concurrency)
        ]

    async def stop(self) -> None:
        tasks = [*self._workers, *self._timers]
        for task in tasks:
            task.cancel()  # all at once, so they wind down together rather than one after another
        for task in tasks:
            await cancel_and_wait(task)
        self._workers.clear()

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until no job is queued, scheduled or running (used by tests and shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    def _done(self, kwargs: dict[str, Any]) -> None:
        key = kwargs.get("__key")
        if key is not None:
            self._keys.discard(key)
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    async def _work(self) -> None:
        while True:
            name, kwargs, attempt = await self._queue.get()
            self._due_at.popleft()
            spec = self._specs[name]
            assert self.hub is not None, "LocalJobQueue.hub must be set before start()"
            ctx: JobContext[object] = {"hub": self.hub, "attempt": attempt, "max_attempts": spec.max_attempts}
            call_kwargs = {k: v for k, v in kwargs.items() if k != "__key"}
            try:
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as
                # the job finishes, and stop() would then wait for this worker for ever.
                async with asyncio.timeout(spec.timeout_s):
                    await spec.function(ctx, **call_kwargs)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt >= spec.max_attempts:
                    log.exception("job %s gave up after %d attempts", name, attempt)
                    self._done(kwargs)
                    continue
                delay = min(spec.retry_delay_s * 2 ** (attempt - 1), spec.max_retry_delay_s)
                log.warning(
                    "job %s attempt %d failed; retrying in <= %.1fs", name, attempt, delay, exc_info=True
                )
                self._schedule(name, kwargs, attempt + 1, random.uniform(delay / 2, delay))
                continue
            self._done(kwargs)
