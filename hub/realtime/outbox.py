"""A socket's bounded buffer in front of its transport.

Writes happen synchronously in the caller (the fan-out loop, or the socket's own task for
replies): while the transport accepts data a frame goes straight out, with no task, queue or
timer per delivery. When the transport pauses (its buffer passed the high-water mark) frames
wait here, up to the socket's queue size, and go out when it resumes. A socket that overflows
the buffer, or stays paused with frames waiting longer than the send timeout, fails as slow:
the fan-out never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, cast

from litestar import WebSocket

from hub.realtime.wire import SCOPE_KEY, HubWebSocketProtocol, OutgoingEvent, frame_key

Item = OutgoingEvent | bytes
"""A fanned-out event (its frame may be shared) or a message for this socket alone."""


class Sink(Protocol):
    def ready(self) -> bool:
        """True when a write would go out now rather than pile up."""

    def write(self, item: Item) -> None: ...


class DirectSink:
    """Writes frames to the uvicorn protocol's transport (the hub's own protocol class)."""

    __slots__ = ("_proto",)

    def __init__(self, proto: HubWebSocketProtocol, on_resume: Callable[[], None]) -> None:
        self._proto = proto
        proto.share = frame_key(proto.conn)
        proto.on_resume = on_resume

    def ready(self) -> bool:
        return self._proto.writable_now

    def write(self, item: Item) -> None:
        proto = self._proto
        if not proto.open:
            # Closing or gone: the socket's reader sees the disconnect and ends the session.
            return
        if isinstance(item, OutgoingEvent):
            proto.write_event(item)
        else:
            proto.write_text(item)

    def detach(self) -> None:
        self._proto.on_resume = None


class AsgiSink:
    """Sends through the ASGI interface, one message at a time, for servers other than the hub's
    protocol (slower: a task hop and the ASGI layers per message)."""

    def __init__(self, socket: WebSocket[Any, Any, Any], on_resume: Callable[[], None]) -> None:
        self._socket = socket
        self._on_resume = on_resume
        self._task: asyncio.Task[None] | None = None
        self._dead = False

    def ready(self) -> bool:
        return self._task is None and not self._dead

    def write(self, item: Item) -> None:
        if self._dead:
            return
        payload = item.payload if isinstance(item, OutgoingEvent) else item
        self._task = asyncio.create_task(self._send(payload.decode()))

    async def _send(self, text: str) -> None:
        try:
            await self._socket.send_text(text)
        except Exception:
            # The peer is gone; the socket's reader notices and ends the session.
            self._dead = True
        self._task = None
        self._on_resume()

    def detach(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._dead = True


class Outbox:
    def __init__(self, maxsize: int, on_fail: Callable[[str], None]) -> None:
        self._buffer: deque[Item] = deque()
        self._maxsize = maxsize
        self._on_fail = on_fail
        self._sink: Sink | None = None
        self.stalled_since: float | None = None
        """When frames began waiting for the transport with no progress since; None when none wait."""
        self.failed = False
        self._drained: asyncio.Future[None] | None = None

    def attach(self, socket: WebSocket[Any, Any, Any]) -> None:
        proto = cast(dict[str, Any], socket.scope).get(SCOPE_KEY)
        if isinstance(proto, HubWebSocketProtocol):
            self.use(DirectSink(proto, self.flush))
        else:
            self.use(AsgiSink(socket, self.flush))

    def use(self, sink: Sink) -> None:
        """Write to `sink`, which calls `flush` whenever it can take more after refusing."""
        self._sink = sink

    @property
    def direct(self) -> bool:
        """Whether frames go straight to the transport (the hub's protocol) rather than through ASGI."""
        return isinstance(self._sink, DirectSink)

    def detach(self) -> None:
        sink, self._sink = self._sink, None
        if isinstance(sink, DirectSink | AsgiSink):
            sink.detach()
        self._buffer.clear()
        self._wake()

    def push(self, item: Item) -> None:
        sink = self._sink
        if self.failed or sink is None:
            return
        if not self._buffer and sink.ready():
            sink.write(item)
            return
        self._buffer.append(item)
        if len(self._buffer) > self._maxsize:
            self.fail("slow consumer: too many undelivered events")
        elif self.stalled_since is None:
            self.stalled_since = asyncio.get_running_loop().time()

    def flush(self) -> None:
        """Write what waits while the transport takes it (called when it resumes)."""
        sink, buffer = self._sink, self._buffer
        if sink is None or self.failed:
            return
        wrote = False
        while buffer and sink.ready():
            sink.write(buffer.popleft())
            wrote = True
        if not buffer:
            self.stalled_since = None
            self._wake()
        elif wrote:
            self.stalled_since = asyncio.get_running_loop().time()

    def check_stalled(self, now: float, timeout: float) -> None:
        since = self.stalled_since
        if since is not None and now - since > timeout and not self.failed:
            self.fail("slow consumer: send timed out")

    def fail(self, reason: str) -> None:
        if self.failed:
            return
        self.failed = True
        # Nothing more reaches a socket this far behind; the client resumes from MongoDB.
        self._buffer.clear()
        self.stalled_since = None
        self._wake()
        with contextlib.suppress(Exception):
            self._on_fail(reason)

    async def drained(self) -> None:
        """Wait until nothing is buffered (or the outbox failed): how a long replay keeps within
        the buffer, as the transport takes it, instead of overflowing it."""
        if not self._buffer or self.failed:
            return
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._drained)

    def _wake(self) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._buffer)
