"""A chatbot client of the hub's /ws/bot: reconnects, resumes, acknowledges.

```python
async with BotClient("ws://127.0.0.1:8000", token) as bot:
    async for event in bot:
        if isinstance(event, MessageCreated):
            await bot.reply(event.data.conversation_id, "Hello!")
```

- Events come from an async iterator, typed (the hub's own msgspec structs: `MessageCreated`,
  `ConversationUpdated`, and `Reset` when the hub could not replay what was missed).
- Each event is acknowledged once the handler is done with it: when the loop asks for the next one
  (`auto_ack=True`), or by `ack(seq)`. Acknowledgements are batched (`ack_interval`) and stored
  by the hub, so a bot restarted without any state resumes after its last acknowledgement.
- The connection is kept: after a drop the client waits (exponential backoff with jitter) and
  reconnects with `since` and `missing` (its highest sequence number and the holes below it), so
  nothing is lost and nothing comes twice; a duplicate that does arrive is dropped.
- The buffer of events waiting for the loop is bounded (`max_pending`): beyond it events are dropped
  unrecorded and, once the backlog is handled, a reconnect with `since` fetches them again.
- At least once: an event handled but not yet acknowledged when the bot itself dies is sent again
  to its next run. Replies carry a `client_id`; the same one again never sends twice, so derive it
  from the event (`reply(..., client_id=f"re:{message_id}")`) to make handling idempotent.
- Requests (`reply`, `handover`, `handback`) wait out any outage: one the hub has not answered is
  asked again on the next connection (and again on the same one after `request_timeout`), until
  the hub answers. They raise `HubError` only for the hub's refusal (an unknown conversation, a
  text too long…) and `NotAuthenticated` for a revoked token; bound the wait with
  `asyncio.timeout` if the bot must give up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from hub.domain import events as ev
from hubclient.bookkeeping import Backoff, SeqTracker

log = logging.getLogger(__name__)

BotEvent = ev.MessageCreated | ev.ConversationUpdated | ev.Reset
"""What the iterator yields."""
_Answer = TypeVar("_Answer", bound=msgspec.Struct)

CLOSE_UNAUTHORIZED = 4401
CLOSE_POLICY = 1008

TRANSIENT_ERRORS = frozenset({"the database is unavailable"})
"""Error frames the hub sends before closing the socket to be retried later: asked again."""


class HubError(Exception):
    """The hub refused a request (its error frame's text)."""


class NotAuthenticated(HubError):
    """The token is unknown or revoked: reconnecting cannot help."""


class BotClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        auto_ack: bool = True,
        since: int | None = None,
        missing: tuple[int, ...] = (),
        backoff: Backoff | None = None,
        ack_interval: float = 0.2,
        hole_ttl: float = 60.0,
        request_timeout: float = 30.0,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """
        Args:
            url: the hub's address, `ws://host:port` (or `wss://`); `/ws/bot` is added.
            token: an API token (`hub create-token`, or the panel's admin API).
            auto_ack: acknowledge an event when the loop asks for the next one.
            since, missing: where to start; by default the hub resumes after the last acknowledgement.
            request_timeout: how long a request waits for its answer on one connection before it
                is sent again (the same request: replies are idempotent by their client id); a
                request itself waits until the hub answers, across reconnects.
        """
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/ws/bot") else "/ws/bot")
        self.token = token
        self.auto_ack = auto_ack
        self.backoff = backoff or Backoff()
        self.ack_interval = ack_interval
        self.request_timeout = request_timeout
        self.max_pending = max_pending
        self._clock = clock
        self.received = SeqTracker(since, missing, hole_ttl)
        """What has arrived: decides `since`/`missing` on reconnect and drops duplicates."""
        self.handled = SeqTracker(since, missing, hole_ttl)
        """What the bot is done with: the position acknowledged to the hub."""
        self.ready: ev.BotReady | None = None
        self.connections = 0
        self._queue: deque[BotEvent] = deque()
        self._wakeup = asyncio.Event()
        self._queued: set[int] = set()
        """Seqs received and not yet handled: never forgotten as holes."""
        self._current: BotEvent | None = None
        self._acked: tuple[int, list[int]] | None = None
        self._ack_due = False
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._requests: dict[str, asyncio.Future[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ack_task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        """Set by `close()`: requests still waiting give up."""
        self._fatal: BaseException | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._overflowed = False
        """More events arrived than `max_pending` wait unhandled: the rest of this connection's
        events are dropped unrecorded, and once the backlog is handled the client reconnects with
        `since` and is sent them again. Memory stays bounded however slow the handler is."""

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> BotClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hubclient-connection")
            self._ack_task = asyncio.create_task(self._ack_loop(), name="hubclient-acks")

    async def close(self) -> None:
        """Acknowledge what was handled, then disconnect.

        The event the loop is on is not acknowledged (its handler may have been interrupted): the
        next run gets it again.
        """
        with contextlib.suppress(Exception):
            await self._send_ack()
        self._closing = True
        self._closed.set()
        self._wakeup.set()
        for task in (self._ack_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def wait_connected(self) -> None:
        """Until the hub has sent `ready` (wrap in asyncio.timeout to bound it)."""
        await self._connected.wait()

    # ---------------------------------------------------------------- events

    def __aiter__(self) -> BotClient:
        return self

    async def __anext__(self) -> BotEvent:
        if self._current is not None:
            if self.auto_ack:
                self._handled(self._current)
            self._current = None
        if not self._queue and self._overflowed:
            self._refetch()
        while not self._queue:
            if self._fatal is not None:
                raise self._fatal
            if self._closing:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        event = self._queue.popleft()
        self._current = event
        return event

    async def ack(self, seq: int) -> None:
        """Mark the event `seq` handled (with `auto_ack=False`); sent with the next batch."""
        self._queued.discard(seq)
        self.handled.add(seq, self._clock())
        self._ack_due = True

    def _handled(self, event: BotEvent) -> None:
        seq = event.seq
        self._queued.discard(seq)
        self.handled.add(seq, self._clock())
        self._ack_due = True

    # ---------------------------------------------------------------- requests

    async def reply(self, conversation_id: str, text: str, *, client_id: str | None = None) -> ev.ReplyAck:
        """Send a reply in a conversation; the hub stores it (author: this bot) and sends it.

        Waits until the hub has stored it, however long the hub is unreachable: it is asked again
        on every new connection with the same `client_id`, so it is stored and sent once.
        """
        frame = {
            "type": "reply",
            "conversation_id": conversation_id,
            "text": text,
            "client_id": client_id or uuid.uuid4().hex,
        }
        return await self._request(frame, ev.ReplyAck)

    async def handover(self, conversation_id: str, note: str | None = None) -> ev.HandedOver:
        """Give the conversation to a human; its messages stop coming until it is handed back."""
        frame = {"type": "handover", "conversation_id": conversation_id, "note": note}
        return await self._request(frame, ev.HandedOver)

    async def handback(self, conversation_id: str) -> ev.HandedBack:
        return await self._request({"type": "handback", "conversation_id": conversation_id}, ev.HandedBack)

    async def _request(self, frame: dict[str, Any], answer: type[_Answer]) -> _Answer:
        """Send a request until the hub answers it: across reconnects, for as long as it takes."""
        while True:
            if self._fatal is not None:
                raise self._fatal
            if self._closing:
                raise ConnectionError(f"{frame['type']}: the client is closed")
            ws = self._ws
            if ws is None or not self._connected.is_set():
                await self._until_connected_or_closed()
                continue
            request_id = uuid.uuid4().hex
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._requests[request_id] = future
            try:
                encoded = msgspec.json.encode({**frame, "request_id": request_id}).decode()
                await asyncio.wait_for(ws.send(encoded), self.request_timeout)
                result = await asyncio.wait_for(future, self.request_timeout)
            except TimeoutError:
                # Not sent or not answered on a connection that still looks open: ask again (idempotent).
                log.info("%s: unanswered for %.0f s; asking again", frame["type"], self.request_timeout)
                continue
            except (websockets.ConnectionClosed, ConnectionError):
                # Sent or not, the connection went: ask again on the next one (idempotent).
                continue
            finally:
                self._requests.pop(request_id, None)
            if isinstance(result, ev.ErrorFrame):
                if result.error in TRANSIENT_ERRORS:
                    # The hub closes this socket next; ask again on the next one.
                    await self._until_disconnected(ws)
                    continue
                raise HubError(result.error)
            if not isinstance(result, answer):
                raise HubError(f"unexpected answer {result!r}")
            return result

    async def _until_connected_or_closed(self) -> None:
        waits = {asyncio.ensure_future(self._connected.wait()), asyncio.ensure_future(self._closed.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _until_disconnected(self, ws: ClientConnection) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ws.wait_closed(), self.request_timeout)
        if self._ws is ws and self._connected.is_set():
            # Still open after all: do not spin on it.
            await asyncio.sleep(self.backoff.next())

    # ---------------------------------------------------------------- connection

    def resume_url(self) -> str:
        """The URL of the next connection: with `since`/`missing` once a position is known."""
        if not self.received.started:
            return self.url
        self.received.expire(self._clock(), keep=self._queued)
        since, missing = self.received.position()
        query = {"since": str(since)}
        if missing:
            query["missing"] = ",".join(map(str, missing))
        return f"{self.url}?{urlencode(query)}"

    async def _run(self) -> None:
        while not self._closing:
            try:
                async with websockets.connect(
                    self.resume_url(),
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=10,
                    max_queue=None,
                ) as ws:
                    self._ws = ws
                    self.connections += 1
                    async for raw in ws:
                        self._on_frame(raw)
            except websockets.ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                log.info("hub connection closed (%s); reconnecting", code)
                if code == CLOSE_UNAUTHORIZED:
                    self._fatal = NotAuthenticated("the hub does not accept this token")
            except websockets.InvalidStatus as exc:
                log.warning("hub refused the connection: %s", exc)
            except (OSError, TimeoutError, EOFError, websockets.InvalidHandshake) as exc:
                log.info("cannot reach the hub: %s", exc)
            except Exception:
                # Whatever a broken network or proxy does, the client keeps trying.
                log.exception("the hub connection failed; reconnecting")
            finally:
                self._disconnected()
            if self._ws is not None and self._ws.close_code == CLOSE_UNAUTHORIZED:
                self._fatal = NotAuthenticated("the hub does not accept this token")
            if self._fatal is not None:
                self._wakeup.set()
                self._closed.set()  # requests waiting for a connection raise the fatal error
                return
            await asyncio.sleep(self.backoff.next())

    def _refetch(self) -> None:
        """Reconnect to be sent what was dropped while the backlog was full."""
        ws = self._ws
        if ws is not None:
            self._close_task = asyncio.create_task(ws.close(1000, "catching up"))

    def _disconnected(self) -> None:
        self._overflowed = False
        self._connected.clear()
        for future in self._requests.values():
            if not future.done():
                future.set_exception(ConnectionError("disconnected"))

    def _on_frame(self, raw: str | bytes) -> None:
        try:
            frame = ev.decode_bot_frame(raw)
        except msgspec.ValidationError as exc:
            log.warning("ignored a frame the SDK does not know: %s", exc)
            return
        now = self._clock()
        if isinstance(frame, ev.MessageCreated | ev.ConversationUpdated | ev.Skip) and (
            self._overflowed or len(self._queue) >= self.max_pending
        ):
            # Not recorded as received: the reconnect after the backlog asks for it again.
            self._overflowed = True
            return
        if isinstance(frame, ev.MessageCreated | ev.ConversationUpdated):
            if self.received.add(frame.seq, now):
                self._queued.add(frame.seq)
                self._queue.append(frame)
                self._wakeup.set()
        elif isinstance(frame, ev.Skip):
            # Not for this bot: had and handled at once.
            self.received.add(frame.seq, now)
            self.handled.add(frame.seq, now)
            self._ack_due = True
        elif isinstance(frame, ev.BotReady):
            self.ready = frame
            if not self.received.started:
                since = frame.resume.since if frame.resume.since is not None else frame.seq
                self.received.start(since, frame.resume.missing, now)
                self.handled.start(since, frame.resume.missing, now)
                self._ack_due = True
            self.backoff.reset()
            self._connected.set()
        elif isinstance(frame, ev.Reset):
            # The hub could not replay what was missed: continue from its head.
            self.received = SeqTracker(frame.seq, (), self.received.hole_ttl)
            self.handled = SeqTracker(frame.seq, (), self.handled.hole_ttl)
            self._queued.clear()
            self._queue.append(frame)
            self._ack_due = True
            self._wakeup.set()
        elif isinstance(
            frame, ev.ReplyAck | ev.HandedOver | ev.HandedBack | ev.Acked | ev.Pong | ev.ErrorFrame
        ):
            future = self._requests.get(frame.request_id or "")
            if future is not None and not future.done():
                future.set_result(frame)
            elif isinstance(frame, ev.ErrorFrame):
                log.warning("hub error: %s", frame.error)

    async def _ack_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ack_interval)
            with contextlib.suppress(websockets.ConnectionClosed, ConnectionError):
                await self._send_ack()

    async def _send_ack(self) -> None:
        ws = self._ws
        if not self._ack_due or ws is None or not self._connected.is_set() or not self.handled.started:
            return
        self._ack_due = False
        self.handled.expire(self._clock(), keep=self._queued)
        position = self.handled.position()
        if position == self._acked:
            return
        await ws.send(
            msgspec.json.encode({"type": "ack", "seq": position[0], "missing": position[1]}).decode()
        )
        self._acked = position
