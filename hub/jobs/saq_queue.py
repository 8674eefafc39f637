"""saq on Redis: jobs survive a process crash and are shared by every worker process.

saq was chosen over arq for its per-job retry policy with exponential backoff and jitter, job
keys that de-duplicate enqueues, heartbeats/sweeps that retry a job whose worker died, and a
small asyncio-native code base that types well.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Worker
from saq.queue.redis import RedisQueue

from hub.jobs.redis_watch import RedisWatch
from hub.jobs.spec import Backlog, JobContext, JobQueue, JobSpec, QueueUnavailable

# redis-py gives up reading a reply after READ_TIMEOUT_S. saq's blocking dequeue (BLMOVE) must
# come back before that: a read abandoned at the moment Redis hands it a job leaves the job's id
# moved to the active list with nobody running it, until saq's sweep a minute later.
READ_TIMEOUT_S = 5.0
DEQUEUE_WAIT_S = 1.0
# How often a worker moves due scheduled jobs (retries, delayed jobs) onto the queue: a delayed
# job runs at most this much (plus its dequeue) after its time. saq's own poll is whole seconds.
SCHEDULE_POLL_S = 0.2


class _RedisQueue(RedisQueue):
    """saq's Redis queue, moving due jobs with a lock of milliseconds rather than whole seconds."""

    _due_script: Any = None

    async def schedule(self, lock: float = SCHEDULE_POLL_S) -> list[str]:
        if self._due_script is None:
            # saq's script, with PSETEX: one worker of many moves the due jobs per poll.
            self._due_script = self.redis.register_script(
                """
                if redis.call('EXISTS', KEYS[1]) == 0 then
                    redis.call('PSETEX', KEYS[1], ARGV[1], 1)
                    local jobs = redis.call('ZRANGEBYSCORE', KEYS[2], 1, ARGV[2])
                    for _, v in ipairs(jobs) do
                        redis.call('ZADD', KEYS[2], 0, v)
                        redis.call('RPUSH', KEYS[3], v)
                    end
                    return jobs
                end
                """
            )
        moved = await self._due_script(
            keys=[self.namespace("schedule"), self.namespace("incomplete"), self.namespace("queued")],
            args=[max(1, int(lock * 1000)), time.time()],
        )
        return [job_id.decode() for job_id in moved or []]


class _Worker(Worker[Any]):
    """saq's worker, with the Redis watch running beside its upkeep and filtering its log."""

    def __init__(self, *args: Any, watch: RedisWatch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watch = watch

    async def upkeep(self) -> list[asyncio.Task[None]]:
        logging.getLogger("saq").addFilter(self._watch)
        return [*await super().upkeep(), asyncio.create_task(self._watch.run(), name="redis-watch")]

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            logging.getLogger("saq").removeFilter(self._watch)
            await self._watch.close()


def _adapt(spec: JobSpec) -> Any:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        job = ctx["job"]
        job_ctx: JobContext[Any] = {
            "hub": ctx["hub"],
            "attempt": job.attempts,
            "max_attempts": spec.max_attempts,
        }
        return await spec.function(job_ctx, **kwargs)

    run.__qualname__ = run.__name__ = spec.name
    return run


class SaqJobQueue(JobQueue):
    def __init__(self, redis_url: str, name: str, specs: dict[str, JobSpec]) -> None:
        self._url = redis_url
        client: Redis = Redis.from_url(redis_url, socket_timeout=READ_TIMEOUT_S)
        self.queue = _RedisQueue(client, name=name)
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
            # Exact, not whole seconds: truncating ran delayed jobs up to a second early.
            options["scheduled"] = time.time() + delay_s
        # The job's arguments go in as its `kwargs` field: saq takes any keyword that names a Job field
        # (`status`, `timeout`, `key`, …) as that field, and a delivery report's `status` would not reach it.
        try:
            await self.queue.enqueue(name, **options, kwargs=kwargs)
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(f"the job queue cannot reach Redis: {exc}") from exc

    async def backlog(self) -> Backlog:
        queue = self.queue
        try:
            # saq appends due jobs to the right of its `queued` list and workers take them from the left.
            key = queue.namespace("queued")
            async with queue.redis.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                pipe.lindex(key, 0)
                queued, first = await pipe.execute()
            raw = await queue.redis.get(first) if first is not None else None
        except (RedisError, OSError) as exc:
            raise QueueUnavailable(f"the job queue cannot reach Redis: {exc}") from exc
        oldest = None
        if raw is not None:
            job = queue.deserialize(raw)
            if job is not None:
                # `queued` (ms) is when it was enqueued; a scheduled job (a retry, a delay) is due later.
                due = max(job.queued / 1000, float(job.scheduled))
                oldest = max(0.0, time.time() - due)
        return Backlog(queue=queue.name, queued=int(queued), oldest_age_s=oldest)

    async def start(self) -> None:
        await self.queue.connect()

    async def stop(self) -> None:
        await self.queue.disconnect()

    def worker(
        self,
        hub: object,
        concurrency: int = 10,
        on_redis_back: Callable[[], Awaitable[None]] | None = None,
    ) -> Worker[Any]:
        """A worker running the registered jobs, handing them `hub` as `ctx["hub"]`; `on_redis_back`
        runs each time Redis answers again after an outage."""

        async def startup(ctx: dict[str, Any]) -> None:
            ctx["hub"] = hub

        worker: Worker[Any] = _Worker(
            self.queue,
            watch=RedisWatch(self._url, on_redis_back),
            functions=[(spec.name, _adapt(spec)) for spec in self._specs.values()],
            concurrency=concurrency,
            startup=startup,
            dequeue_timeout=DEQUEUE_WAIT_S,
        )
        # saq types its timers as whole seconds; the poll itself sleeps any float.
        worker.timers["schedule"] = SCHEDULE_POLL_S  # type: ignore[typeddict-item]
        # The process owner (uvicorn in `hub serve`, `hub worker` itself) handles SIGINT/SIGTERM and
        # stops the worker; saq's own handlers would take them over and the process would not exit.
        worker.SIGNALS = []
        return worker
