"""Per-process fan-out of encoded events to WebSocket subscribers.

One backend subscription per account channel per process (Redis pub/sub between processes,
memory within one), and a bounded queue per socket. Publishing never waits on a socket: a
subscriber whose queue is full is cut off and told so; it reconnects and resumes from MongoDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Final

from litestar.channels.backends.base import ChannelsBackend

log = logging.getLogger(__name__)

_CLOSED: Final = b""


class SubscriberClosed(Exception):
    """The subscription ended: the subscriber fell behind, or the fan-out lost its backend."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscription:
    """A socket's bounded inbox of encoded events."""

    def __init__(self, channel: str, maxsize: int) -> None:
        self.channel = channel
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=maxsize + 1)
        self._maxsize = maxsize
        self.closed_reason: str | None = None

    def offer(self, payload: bytes) -> bool:
        """Queue a payload without waiting. Returns False (and closes) when the queue is full."""
        if self.closed_reason is not None:
            return False
        if self._queue.qsize() >= self._maxsize:
            self.close("slow consumer: too many undelivered events")
            return False
        self._queue.put_nowait(payload)
        return True

    def close(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        # Drop what is queued: the client resumes from MongoDB anyway.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    async def get(self) -> bytes:
        """Next payload. Raises SubscriberClosed once the subscription is closed."""
        payload = await self._queue.get()
        if payload is _CLOSED or self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason or "closed")
        return payload

    def get_nowait(self) -> bytes | None:
        if self._queue.empty():
            return None
        payload = self._queue.get_nowait()
        if payload is _CLOSED or self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason or "closed")
        return payload


class Fanout:
    """Routes published payloads to the local subscriptions of their channel."""

    def __init__(self, backend_factory: Callable[[], ChannelsBackend], queue_size: int) -> None:
        self._backend_factory = backend_factory
        self._backend: ChannelsBackend | None = None
        self._queue_size = queue_size
        self._subs: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._backend = self._backend_factory()
        await self._backend.on_startup()
        self._ready.set()
        self._task = asyncio.create_task(self._pump(), name="fanout-pump")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subs in self._subs.values():
            for sub in subs:
                sub.close("server shutting down")
        self._subs.clear()
        if self._backend is not None:
            with contextlib.suppress(Exception):
                await self._backend.on_shutdown()
            self._backend = None

    async def publish(self, channel: str, payload: bytes) -> None:
        """Hand a payload to every subscriber of `channel` in every process.

        A failure is logged, not raised: the event is already in MongoDB and clients catch up
        from there when they notice the gap.
        """
        backend = self._backend
        if backend is None:
            return
        try:
            await backend.publish(payload, [channel])
        except Exception:
            log.exception("publish to %s failed; subscribers will resume from MongoDB", channel)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        sub = Subscription(channel, self._queue_size)
        async with self._lock:
            first = not self._subs[channel]
            self._subs[channel].add(sub)
            if first and self._backend is not None:
                await self._backend.subscribe([channel])
        try:
            yield sub
        finally:
            sub.close("unsubscribed")
            async with self._lock:
                subs = self._subs.get(channel)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[channel]
                        if self._backend is not None:
                            with contextlib.suppress(Exception):
                                await self._backend.unsubscribe([channel])

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._subs.get(channel, ()))
        return sum(len(s) for s in self._subs.values())

    async def _pump(self) -> None:
        delay = 0.5
        while True:
            backend = self._backend
            assert backend is not None
            try:
                async for channel, payload in backend.stream_events():
                    delay = 0.5
                    for sub in tuple(self._subs.get(channel, ())):
                        sub.offer(payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fan-out backend failed; closing subscribers so they resume")
            # The stream broke (Redis went away): events may have been lost, so every local
            # subscriber must reconnect and resume from MongoDB.
            for subs in self._subs.values():
                for sub in subs:
                    sub.close("realtime backend restarted")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            with contextlib.suppress(Exception):
                await backend.on_shutdown()
            self._backend = self._backend_factory()
            try:
                await self._backend.on_startup()
                async with self._lock:
                    if self._subs:
                        await self._backend.subscribe(list(self._subs))
            except Exception:
                log.exception("fan-out backend did not come back yet")
