"""What a job is: a named async function, its retry policy, and the context it runs with.

The queues know jobs only by these specs, registered by whoever starts the hub (`workers.run`);
services enqueue by name through `JobQueue.enqueue`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypedDict, TypeVar

Deps = TypeVar("Deps")


class JobContext(TypedDict, Generic[Deps]):
    """Handed to every job function, whichever queue runs it.

    `hub` is whatever the process that started the worker handed to it (the hub's context): the
    queue only passes it on, so the job layer depends on nothing above it.
    """

    hub: Deps
    attempt: int
    """1 for the first run."""
    max_attempts: int


JobFunction = Callable[..., Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    max_attempts: int = 8
    """Runs before the job is given up; the function sees `attempt == max_attempts` on the last."""
    retry_delay_s: float = 1.0
    """First retry delay; doubled each time, with jitter, up to `max_retry_delay_s`."""
    max_retry_delay_s: float = 300.0
    timeout_s: int = 30


@dataclass(frozen=True)
class Backlog:
    """What waits in a queue: the back-pressure `/health` and `/metrics` show."""

    queue: str
    """The queue's name (`local` in process; the saq queue's name on Redis)."""
    queued: int
    """Jobs due and waiting for a worker (not those running, nor those scheduled for later)."""
    oldest_age_s: float | None
    """How long the longest-waiting of them has been due, in seconds; None when none waits."""


class QueueUnavailable(Exception):
    """The queue's store (Redis) did not take the job: nothing was enqueued."""


class JobQueue(Protocol):
    """Where services put work for later: all they know of the jobs is their names.

    Implementations: in process (`hub.jobs.local`) and saq on Redis (`hub.jobs.saq_queue`).
    """

    async def enqueue(
        self, name: str, *, key: str | None = None, delay_s: float = 0.0, **kwargs: Any
    ) -> None:
        """Queue job `name` with `kwargs`; a `key` still queued makes this a no-op.

        Raises:
            QueueUnavailable: the queue's store could not be reached.
        """
        ...

    async def backlog(self) -> Backlog:
        """Read what waits now, without taking anything off the queue.

        Raises:
            QueueUnavailable: the queue's store could not be reached.
        """
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
