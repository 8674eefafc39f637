"""saq on Redis: jobs survive a process crash and are shared by every worker process.

saq was chosen over arq for its per-job retry policy with exponential backoff and jitter, job
keys that de-duplicate enqueues, heartbeats/sweeps that retry a job whose worker died, and a
small asyncio-native code base that types well.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from saq import Queue, Worker

from hub.jobs.spec import JobContext, JobQueue, JobSpec

if TYPE_CHECKING:
    from hub.context import HubContext


def _adapt(spec: JobSpec) -> Any:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        job = ctx["job"]
        job_ctx: JobContext = {"hub": ctx["hub"], "attempt": job.attempts, "max_attempts": spec.max_attempts}
        return await spec.function(job_ctx, **kwargs)

    run.__qualname__ = run.__name__ = spec.name
    return run


class SaqJobQueue(JobQueue):
    def __init__(self, redis_url: str, name: str, specs: dict[str, JobSpec]) -> None:
        self.queue = Queue.from_url(redis_url, name=name)
        self._specs = specs

    async def enqueue(
        self, name: str, *, key: str | None = None, delay_s: float = 0.0, **kwargs: Any
    ) -> None:
        spec = self._specs[name]
        options: dict[str, Any] = {
            "timeout": spec.timeout_s,
            "retries": spec.max_attempts,
            "retry_delay": spec.retry_delay_s,
            "retry_backoff": spec.max_retry_delay_s,
            "heartbeat": max(spec.timeout_s * 2, 60),
        }
        if key is not None:
            options["key"] = key
        if delay_s > 0:
            options["scheduled"] = int(time.time() + delay_s)
        # The job's arguments go in as its `kwargs` field: saq takes any keyword that names a Job field
        # (`status`, `timeout`, `key`, …) as that field, and a delivery report's `status` would not reach it.
        await self.queue.enqueue(name, **options, kwargs=kwargs)

    async def start(self) -> None:
        await self.queue.connect()

    async def stop(self) -> None:
        await self.queue.disconnect()

    def worker(self, hub: HubContext, concurrency: int = 10) -> Worker[Any]:
        async def startup(ctx: dict[str, Any]) -> None:
            ctx["hub"] = hub

        worker: Worker[Any] = Worker(
            self.queue,
            functions=[(spec.name, _adapt(spec)) for spec in self._specs.values()],
            concurrency=concurrency,
            startup=startup,
        )
        # The process owner (uvicorn in `hub serve`, `hub worker` itself) handles SIGINT/SIGTERM and
        # stops the worker; saq's own handlers would take them over and the process would not exit.
        worker.SIGNALS = []
        return worker
