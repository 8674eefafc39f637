"""Says once that the job queue lost Redis and once that it is back.

During an outage saq's upkeep (scheduling, sweeping, worker stats) fails at every poll and logs
a full traceback each time. The watch drops those records, logs one line when Redis is lost, and
asks Redis each second for its `run_id` to log one line when it really answers again. Then it calls
`on_back`: a Redis restarted without persistence comes back empty, so the queued and scheduled jobs
it held must be found again in MongoDB (the same sweeps a process runs when it starts).

A restart shorter than one check, or hidden by redis-py's own retries, shows no failure at all; the
`run_id` changes with every restart, so that is what says Redis came back, not a failed ping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


class RedisWatch(logging.Filter):
    """A filter for saq's logger and a ping loop sharing one up/down state."""

    def __init__(self, url: str, on_back: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__()
        self._on_back = on_back
        # Two quick tries per check, no waiting: the second on a new connection when Redis closed the
        # pooled one by restarting; the check itself must not wait out redis-py's usual retries.
        self._client: Redis = Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 1)
        )
        self.down = False
        self._run_id: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, _UNREACHABLE):
            self.lost(error)
            return False
        return True

    def lost(self, error: BaseException) -> None:
        if not self.down:
            self.down = True
            log.error("job queue lost Redis (%s); jobs wait until it is back", error)

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(CHECK_EVERY_S)

    async def check(self) -> None:
        """One look at Redis: lost, back, or restarted since the last look."""
        try:
            info = await self._client.info("server")
        except (RedisError, OSError) as error:
            self.lost(error)
            return
        run_id = str(info.get("run_id", ""))
        restarted = self._run_id is not None and run_id != self._run_id
        self._run_id = run_id
        if self.down or restarted:
            self.down = False
            log.info("job queue: Redis is back")
            await self._back()

    async def _back(self) -> None:
        if self._on_back is None:
            return
        try:
            await self._on_back()
        except (RedisError, OSError) as error:
            # Lost again at once: the next return calls it again.
            self.lost(error)

    async def close(self) -> None:
        await self._client.aclose()
