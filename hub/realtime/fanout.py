"""Per-process fan-out of encoded events to WebSocket subscribers.

One backend subscription per account channel per process (Redis pub/sub between processes,
memory within one). One loop per process hands each event, wrapped once in an `OutgoingEvent`
(so its frame is encoded once), to every local subscription of its channel. A socket's
subscription has a receiver that writes or buffers synchronously (hub.realtime.outbox); others
get a bounded queue. Publishing never waits on a socket: a subscriber whose buffer is full is cut
off and told so; it reconnects and resumes from MongoDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Final, Protocol

from litestar.channels.backends.base import ChannelsBackend

from hub.realtime.wire import OutgoingEvent
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_CLOSED: Final = b""


class SubscriberClosed(Exception):
    """The subscription ended: the subscriber fell behind, or the fan-out lost its backend."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Receiver(Protocol):
    """Takes a subscription's events synchronously, in the fan-out loop: it must not block."""

    def deliver(self, event: OutgoingEvent) -> None: ...

    def closed(self, reason: str) -> None:
        """The subscription ended (backend restarted, server stopping): no more events come."""


class Subscription:
    """A subscriber's events: handed to its receiver, or else kept in a bounded queue for `get`."""

    def __init__(self, channel: str, maxsize: int, receiver: Receiver | None = None) -> None:
        self.channel = channel
        # Only subscribers without a receiver read a queue: thousands of idle sockets need none.
        self._queue: asyncio.Queue[bytes] | None = None if receiver else asyncio.Queue(maxsize=maxsize + 1)
        self._maxsize = maxsize
        self._receiver = receiver
        self.closed_reason: str | None = None

    def offer(self, event: OutgoingEvent) -> bool:
        """Hand over an event without waiting. Returns False (and closes) when the queue is full."""
        if self.closed_reason is not None:
            return False
        if self._receiver is not None:
            self._receiver.deliver(event)
            return True
        queue = self._queue
        assert queue is not None
        if queue.qsize() >= self._maxsize:
            self.close("slow consumer: too many undelivered events")
            return False
        queue.put_nowait(event.payload)
        return True

    def close(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        if self._receiver is not None:
            receiver, self._receiver = self._receiver, None
            receiver.closed(reason)
        if self._queue is not None:
            # Drop what is queued: the client resumes from MongoDB anyway.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_CLOSED)

    def _inbox(self) -> asyncio.Queue[bytes]:
        if self._queue is None:
            raise TypeError("a subscription with a receiver has no queue to read")
        return self._queue

    async def get(self) -> bytes:
        """Next payload. Raises SubscriberClosed once the subscription is closed."""
        payload = await self._inbox().get()
        if payload is _CLOSED or self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason or "closed")
        return payload

    def get_nowait(self) -> bytes | None:
        queue = self._inbox()
        if queue.empty():
            return None
        payload = queue.get_nowait()
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
        self._healthy = False
        self._broken = asyncio.Event()
        self._failure: BaseException | None = None
        self._publish_failing = False

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def start(self) -> None:
        self._backend = self._backend_factory()
        try:
            await self._backend.on_startup()
            self._healthy = True
        except Exception as exc:
            # Redis down at start-up: the process starts all the same, and the pump waits for it.
            self._failure = exc
            self._broken.set()
        self._task = asyncio.create_task(self._pump(), name="fanout-pump")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        self._close_all("server shutting down")
        self._subs.clear()
        self._healthy = False
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
        if backend is None or not self._healthy:
            return
        try:
            await backend.publish(payload, [channel])
        except Exception as exc:
            # One line when publishing starts failing (an outage fails them all), one when it works again.
            if not self._publish_failing:
                self._publish_failing = True
                log.warning("publishing failed (%s); subscribers will resume from MongoDB", exc)
            return
        if self._publish_failing:
            self._publish_failing = False
            log.info("publishing works again")

    @property
    def queue_size(self) -> int:
        """Events buffered per subscriber before it is cut off as slow."""
        return self._queue_size

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, receiver: Receiver | None = None) -> AsyncIterator[Subscription]:
        """Subscribe to a channel; with a receiver, events go to it as they arrive instead of `get`.

        Raises:
            SubscriberClosed: the backend is down or restarting; the caller should retry later.
        """
        sub = Subscription(channel, self._queue_size, receiver)
        async with self._lock:
            if not self._healthy or self._backend is None:
                raise SubscriberClosed("realtime backend unavailable; try again shortly")
            first = not self._subs.get(channel)
            self._subs[channel].add(sub)
            if first:
                try:
                    await self._backend.subscribe([channel])
                except Exception as exc:
                    self._discard(sub)
                    self._healthy = False
                    self._failure = exc
                    self._broken.set()  # the pump logs it and replaces the backend
                    raise SubscriberClosed("realtime backend unavailable; try again shortly") from exc
        try:
            yield sub
        finally:
            sub.close("unsubscribed")
            async with self._lock:
                last = self._discard(sub)
                if last and self._healthy and self._backend is not None:
                    with contextlib.suppress(Exception):
                        await self._backend.unsubscribe([channel])

    def _discard(self, sub: Subscription) -> bool:
        """Forget a subscription; True when it was its channel's last."""
        subs = self._subs.get(sub.channel)
        if subs is None:
            return False
        subs.discard(sub)
        if not subs:
            del self._subs[sub.channel]
            return True
        return False

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._subs.get(channel, ()))
        return sum(len(s) for s in self._subs.values())

    def _close_all(self, reason: str) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.close(reason)

    async def _stream(self, backend: ChannelsBackend) -> None:
        async for channel, payload in backend.stream_events():
            subs = self._subs.get(channel)
            if not subs:
                continue
            # One wrapper per event: its frame is built once and shared by every socket.
            event = OutgoingEvent(payload)
            for sub in tuple(subs):
                sub.offer(event)

    async def _pump(self) -> None:
        while True:
            backend = self._backend
            assert backend is not None
            stream = asyncio.create_task(self._stream(backend))
            broken = asyncio.create_task(self._broken.wait())
            try:
                await asyncio.wait({stream, broken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (stream, broken):
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            failure = self._failure
            if stream.done() and not stream.cancelled():
                failure = stream.exception() or failure
            log.error("fan-out backend lost (%s); sockets resume from MongoDB when it is back", failure)
            self._failure = None
            await self._recover()

    async def _recover(self) -> None:
        """Replace a failed backend. Until it works, new subscriptions are refused."""
        # Events may have been lost: every local subscriber must reconnect and resume from MongoDB.
        self._healthy = False
        self._close_all("realtime backend restarted")
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            old = self._backend
            if old is not None:
                with contextlib.suppress(Exception):
                    await old.on_shutdown()
            backend = self._backend_factory()
            try:
                await backend.on_startup()
                async with self._lock:
                    if self._subs:
                        await backend.subscribe(list(self._subs))
                    self._backend = backend
                    self._broken.clear()
                    self._healthy = True
                log.info("fan-out backend is back")
                return
            except Exception as exc:
                self._backend = backend
                # Said once when it was lost and once when it is back, not at every attempt.
                log.debug("fan-out backend not back yet: %s", exc)
