"""The job queue's Redis watch notices a restart that no check of it saw fail."""

from __future__ import annotations

from pathlib import Path

from hub.jobs.redis_watch import RedisWatch
from tests.integration.test_fanout import PrivateRedis


async def test_a_restart_between_two_checks_still_runs_the_sweeps(tmp_path: Path) -> None:
    """Killed and restarted between two checks, Redis comes back empty all the same."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    backs: list[int] = []

    async def on_back() -> None:
        backs.append(1)

    watch = RedisWatch(redis.url, on_back)
    try:
        await watch.check()
        await watch.check()
        assert backs == [], "Redis that stayed up is not a return"
        redis.kill()
        redis.start()
        await watch.check()
        assert backs == [1], "the restart went unnoticed: the jobs the old Redis held are not swept"
        await watch.check()
        assert backs == [1], "one restart, one sweep"
        redis.kill()
        await watch.check()
        assert watch.down and backs == [1]
        redis.start()
        await watch.check()
        assert backs == [1, 1], "a restart the watch saw fail is a return too"
    finally:
        await watch.close()
        redis.kill()
