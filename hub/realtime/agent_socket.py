"""The agent panel's WebSocket: live events with resume by sequence number.

Protocol (docs/websocket-api.md): connect to /ws?since=N[&missing=a,b]; the server replays
durable events with seq > N (and the listed holes below N that are stored by now) from
MongoDB, sends `ready`, then streams live events. The subscription starts before the replay
query, so an event stored during the replay arrives live; the socket skips live events it has
already replayed. Nothing is lost between the two and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from typing import Annotated, Any

import msgspec
from beanie import PydanticObjectId
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from hub.api.deps import credential
from hub.api.errors import DATABASE_DOWN
from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.bus import EventBus, now_iso
from hub.realtime.coalesce import Coalesced
from hub.realtime.fanout import SubscriberClosed, Subscription
from hub.realtime.outbox import Outbox
from hub.realtime.wire import OutgoingEvent
from hub.services import auth, capacity, presence
from hub.services.conversations import mark_read
from hub.services.errors import ServiceError
from hub.services.outbound import Author, get_conversation, send_reply

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_RESTART = 1012
CLOSE_TRY_LATER = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW = 4408
SEND_TIMEOUT_S = 10.0
RECHECK_S = 30.0
"""Seconds between credential checks of open sockets (read when used: tests and benchmarks change it)."""
SWEEP_S = 1.0
"""How often stalled sends are looked for: a slow socket is closed within SEND_TIMEOUT_S + SWEEP_S."""
REGISTRY_KEY = "hub_sockets"
REPLAY_BUFFERED = 100
"""Replayed events a socket may have waiting on its transport before the replay waits for it."""
MAX_SEQ = 2**63 - 1
MAX_MISSING = 500
# How many recent seqs a socket remembers having sent. An event older than that arriving again
# (a retry publishing it much later) is sent again; clients skip seqs they have seen.
SENT_MEMORY = 10_000
MAX_KNOWN_CONVERSATIONS = 1000

Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
ShortText = Annotated[str, msgspec.Meta(max_length=100)]


class ClientMessage(msgspec.Struct):
    type: ShortText
    conversation_id: ShortText | None = None
    text: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None
    client_id: ShortText | None = None
    media: Annotated[list[ShortText], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    """A reply's attachments: ids from `POST /api/conversations/{id}/attachments`."""
    since: Seq | None = None
    missing: Annotated[list[Seq], msgspec.Meta(max_length=MAX_MISSING)] = msgspec.field(default_factory=list)
    request_id: ShortText | None = None
    seq: Seq | None = None
    """A bot's `ack` (hub.realtime.bot_socket)."""
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    """A bot's `handover` note for the agent."""


class SeqOnly(msgspec.Struct):
    seq: int = 0
    type: str = ""
    for_agent: str | None = None
    """An event for one agent's sockets only (a `mention`)."""


_decode_client = msgspec.json.Decoder(ClientMessage)
_encode = msgspec.json.encode
_peek = msgspec.json.Decoder(SeqOnly)


class CloseSocket(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_resume(raw_since: str | None, raw_missing: str | None) -> tuple[int | None, list[int]]:
    """`since` and `missing` from the query string.

    Raises:
        ValueError: not whole numbers in range, or too many holes.
    """
    since = None
    if raw_since is not None:
        since = int(raw_since)
        if not 0 <= since <= MAX_SEQ:
            raise ValueError("since is out of range")
    missing = [int(x) for x in raw_missing.split(",") if x] if raw_missing else []
    if len(missing) > MAX_MISSING or any(not 0 < m <= MAX_SEQ for m in missing):
        raise ValueError(f"missing takes at most {MAX_MISSING} sequence numbers")
    return since, missing


async def refuse_try_later(socket: WebSocket[Any, Any, Any], exc: Exception) -> None:
    """Accept, say why, and close with 1013 (try again later): the database cannot say who is calling.

    Refusing the handshake instead would reach the client as HTTP 403, which reads as "forbidden"
    and makes it stop retrying.
    """
    log.warning("socket refused: database unavailable: %s", exc)
    await socket.accept()
    error = {"type": "error", "error": "the database is unavailable; retry later"}
    await socket.send_text(_encode(error))
    await socket.close(code=CLOSE_TRY_LATER, reason="database unavailable")


async def open_socket(socket: WebSocket[Any, Any, Any]) -> tuple[auth.Principal, str] | None:
    """Accept the socket and say who opened it; None when it was refused (and is closed).

    A database that cannot be asked who the caller is closes the socket with 1013 (try again
    later, `refuse_try_later`), never as an authentication failure.
    """
    token = credential(socket)
    try:
        principal = await registry_of(socket).resolve(token) if token else None
    except DATABASE_DOWN as exc:
        await refuse_try_later(socket, exc)
        return None
    await socket.accept()
    if principal is None or token is None:
        await socket.send_text(_encode({"type": "error", "error": "not authenticated"}))
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="not authenticated")
        return None
    return principal, token


class SocketRegistry:
    """The open sessions of one application (one process), and the work done for all of them at once.

    One task per process, not one per socket: every second it closes sessions whose frames have
    waited on a paused transport longer than SEND_TIMEOUT_S, and every RECHECK_S it checks the
    credentials of every open session with a few `$in` queries (auth.still_valid) instead of a
    query per socket, and refreshes the presence records of agents' sockets with one update.
    """

    def __init__(self) -> None:
        self.sessions: set[AgentSession] = set()
        self._task: asyncio.Task[None] | None = None
        self.last_check = time.monotonic()
        # What every opening socket asks the database, shared by those asking at the same time.
        self.resolve: Coalesced[str, auth.Principal | None] = Coalesced(auth.resolve)
        self.head: Coalesced[tuple[EventBus, PydanticObjectId], int] = Coalesced(_head)
        self.online: Coalesced[PydanticObjectId, list[dict[str, str]]] = Coalesced(presence.online)

    def add(self, session: AgentSession) -> None:
        self.sessions.add(session)
        if self._task is None or self._task.done():
            self.last_check = time.monotonic()
            self._task = asyncio.create_task(self._run(), name="ws-sessions")

    def discard(self, session: AgentSession) -> None:
        self.sessions.discard(session)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        check: asyncio.Task[None] | None = None
        try:
            while self.sessions:
                await asyncio.sleep(min(SWEEP_S, max(RECHECK_S, 0.01)))
                now = loop.time()
                for session in tuple(self.sessions):
                    session.outbox.check_stalled(now, SEND_TIMEOUT_S)
                # A task of its own: a slow database must not hold up the stalled-send sweep.
                if (check is None or check.done()) and time.monotonic() - self.last_check >= RECHECK_S:
                    self.last_check = time.monotonic()
                    check = asyncio.create_task(self._recheck_logged(), name="ws-credentials")
        finally:
            if check is not None:
                check.cancel()
        self._task = None

    async def _recheck_logged(self) -> None:
        try:
            await self.recheck()
        except Exception:
            log.exception("checking the credentials of open sockets failed")

    async def recheck(self) -> None:
        """Close the sessions whose session ended or whose token was revoked; keep agents present."""
        sessions = [s for s in self.sessions if s.live]
        if not sessions:
            return
        try:
            valid = await auth.still_valid({s.token for s in sessions})
        except DATABASE_DOWN as exc:
            # Unchecked credentials may have been revoked: as when each socket checked its own,
            # the sockets close and their clients come back once the database answers.
            log.warning("sockets closed: database unavailable for the credential check: %s", exc)
            for s in sessions:
                s.end(CLOSE_TRY_LATER, "database unavailable")
            return
        checked = time.monotonic()
        agents = []
        for s in sessions:
            if s.token in valid:
                s.checked_at = checked
                if s.principal.kind == "agent":
                    agents.append(s.socket_id)
            else:
                s.revoked()
        if agents:
            await presence.refresh_many(agents)


async def _head(key: tuple[EventBus, PydanticObjectId]) -> int:
    return await key[0].head(key[1])


def registry_of(socket: WebSocket[Any, Any, Any]) -> SocketRegistry:
    state = socket.app.state
    registry = state.get(REGISTRY_KEY)
    if not isinstance(registry, SocketRegistry):
        registry = SocketRegistry()
        state[REGISTRY_KEY] = registry
    return registry


class AgentSession:
    """One socket: replay, then live events written by the fan-out loop through its outbox."""

    def __init__(
        self, hub: HubContext, socket: WebSocket[Any, Any, Any], principal: auth.Principal, token: str
    ) -> None:
        self.hub = hub
        self.socket = socket
        self.principal = principal
        self.token = token
        self.checked_at = time.monotonic()
        self.sent: set[int] = set()
        """Durable seqs this socket has sent, replayed or live: none is sent twice."""
        self.floor = 0
        """The client said it has every durable seq up to this one, except `wanted`: a retried
        webhook publishing such an event again must not reach it a second time."""
        self.wanted: set[int] = set()
        self.socket_id = uuid.uuid4().hex
        self.outbox = Outbox(hub.fanout.queue_size, self._slow)
        self.held: deque[OutgoingEvent] | None = deque()
        """Live events that arrive before `ready` (during the replay); None once streaming."""
        self.ended: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self.live = False
        self.registry = registry_of(socket)
        self.reading: asyncio.Task[Any] | None = None
        """The task reading the client's messages, while it does: `end` cancels it."""
        self.conversations: set[str] = set()
        """Conversation ids this socket's `typing` named and that were found to be its account's."""

    def send(self, payload: bytes) -> None:
        """Send a message of this socket's own (a reply, a replayed event), after what is queued."""
        self.outbox.push(payload)

    def end(self, code: int, reason: str) -> None:
        """Stop the session (from the fan-out loop, the registry or its own reads); `serve` closes it."""
        if not self.ended.done():
            self.ended.set_result((code, reason))
            if self.reading is not None:
                self.reading.cancel()

    def _slow(self, reason: str) -> None:
        self.end(CLOSE_SLOW, reason)

    def revoked(self) -> None:
        self.send(_encode({"type": "error", "error": "the session or token is no longer valid"}))
        self.end(CLOSE_UNAUTHORIZED, "credentials revoked or expired")

    # Receiver of the fan-out: called synchronously in its loop, once per event.

    def deliver(self, event: OutgoingEvent) -> None:
        if self.outbox.failed:
            return
        held = self.held
        if held is not None:
            held.append(event)
            if len(held) > self.hub.fanout.queue_size:
                self.outbox.fail("slow consumer: too many undelivered events")
            return
        try:
            self._send_live(event)
        except Exception:
            # This runs in the fan-out loop: a bad payload ends this socket, not the loop.
            log.exception("delivering an event to a socket failed")
            self.end(CLOSE_INTERNAL, "internal error")

    def closed(self, reason: str) -> None:
        self.end(CLOSE_SLOW if "slow" in reason else CLOSE_RESTART, reason)

    def _send_live(self, event: OutgoingEvent) -> None:
        head = event.head
        if head is None:
            # Decoded by the first socket of the event; the others reuse it.
            head = event.head = _peek.decode(event.payload)
        if head.for_agent is not None and head.for_agent != str(self.principal.id):
            return
        if head.type in ev.DURABLE_TYPES and not self._first_time(head.seq):
            return
        self.outbox.push(event)

    def _first_time(self, seq: int) -> bool:
        """Remember a durable seq as sent; False when it already was, or the client has it."""
        if seq in self.sent:
            return False
        if seq <= self.floor:
            if seq not in self.wanted:
                return False
            self.wanted.discard(seq)
        self.sent.add(seq)
        if len(self.sent) > SENT_MEMORY * 2:
            floor = max(self.sent) - SENT_MEMORY
            self.sent = {s for s in self.sent if s > floor}
        return True

    async def replay(self, since: int, missing: list[int]) -> int:
        """Send durable events after `since` (and stored ones among `missing`); returns how many."""
        hub, account = self.hub, self.principal.account_id
        limit = hub.settings.realtime.resume_limit
        head = await self.registry.head((hub.bus, account))
        reason = None
        if since > head:
            reason = "the client is ahead of the server"
        elif since < head and not await hub.bus.holds_after(account, since):
            reason = "events after the client's position have expired"
        backlog = [] if reason else await hub.bus.since(account, since, limit, missing)
        if len(backlog) > limit:
            reason = f"more than {limit} events missed"
        if reason:
            # The client reloads its state over REST, then continues from `seq`.
            self.floor, self.wanted = head, set()
            self.send(_encode({"type": "reset", "reason": reason, "seq": head}))
            return 0
        self.floor, self.wanted = since, set(missing)
        count = 0
        for payload in backlog:
            count += self.send_event(payload)
            if len(self.outbox) >= REPLAY_BUFFERED:
                # Let the client read: a long replay would otherwise overflow the buffer.
                await self.outbox.drained()
                if self.outbox.failed:
                    break
        return count

    def send_event(self, payload: bytes) -> int:
        """Send an event unless it is a durable one this socket already sent; returns 1 if sent."""
        head = _peek.decode(payload)
        if head.type in ev.DURABLE_TYPES and not self._first_time(head.seq):
            return 0
        self.send(payload)
        return 1

    async def run(self, since: int | None, missing: list[int]) -> None:
        hub, principal = self.hub, self.principal
        channel = hub.bus.account_channel(principal.account_id)
        code, reason = 1000, "bye"
        registry = self.registry
        self.outbox.attach(self.socket)
        try:
            async with hub.fanout.subscribe(channel, self) as sub:
                registry.add(self)
                code, reason = await self.serve(sub, since, missing)
        except SubscriberClosed as exc:
            code, reason = CLOSE_TRY_LATER, exc.reason
        except CloseSocket as exc:
            code, reason = exc.code, exc.reason
        except DATABASE_DOWN as exc:
            log.warning("socket closed: database unavailable: %s", exc)
            code, reason = CLOSE_TRY_LATER, "database unavailable"
        finally:
            registry.discard(self)
            self.live = False
            self.outbox.detach()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await self.socket.close(code=code, reason=reason[:120])

    async def serve(self, sub: Subscription, since: int | None, missing: list[int]) -> tuple[int, str]:
        hub, principal = self.hub, self.principal
        # Read after subscribing (so is a shared read: it starts after every sharer subscribed).
        head = await self.registry.head((hub.bus, principal.account_id))
        replayed = await self.replay(since, missing) if since is not None else 0
        if principal.kind == "agent":
            await presence.arrive(self.socket_id, principal.account_id, principal.id, principal.name)
        self.send(_encode(await self.ready_frame(head, replayed)))
        # From here the fan-out loop writes live events itself; those that came during the
        # replay go first, minus the seqs the replay already sent.
        held, self.held = self.held or deque(), None
        for event in held:
            self.deliver(event)
        self.live = True
        await self.presence("online", head)
        if principal.kind == "agent":
            try:
                # Online now: the agent may take waiting conversations.
                await capacity.agent_online(hub, principal.account_id)
            except Exception as exc:
                log.warning("capacity routing after an agent came online failed: %s", exc)
        # The client's messages are read in this task rather than a second one per socket (less
        # memory per idle socket); `end` interrupts the read by cancelling it.
        outcome = (1000, "bye")
        try:
            if not self.ended.done():
                self.reading = asyncio.current_task()
                await self.read()
        except asyncio.CancelledError:
            if not self.ended.done():
                raise  # the server is cancelling the connection, not this session
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        except CloseSocket as exc:
            outcome = (exc.code, exc.reason)
        except Exception as exc:
            log.error("agent socket failed", exc_info=exc)
            outcome = (CLOSE_INTERNAL, "internal error")
        finally:
            self.reading = None
            self.live = False
            with contextlib.suppress(Exception):
                if principal.kind == "agent" and await presence.leave(
                    self.socket_id, principal.account_id, principal.id
                ):
                    await self.presence("offline", await hub.bus.head(principal.account_id))
        if self.ended.done():
            return self.ended.result()
        return outcome

    async def ready_frame(self, head: int, replayed: int) -> dict[str, Any]:
        principal = self.principal
        return {
            "type": "ready",
            "seq": head,
            "replayed": replayed,
            "principal": {"kind": principal.kind, "id": str(principal.id), "name": principal.name},
            "online": await self.registry.online(principal.account_id),
        }

    async def check_credentials(self) -> None:
        """Close the socket once its session ends or its token is revoked."""
        if await auth.resolve(self.token) is None:
            self.send(_encode({"type": "error", "error": "the session or token is no longer valid"}))
            raise CloseSocket(CLOSE_UNAUTHORIZED, "credentials revoked or expired")
        self.checked_at = time.monotonic()

    async def read(self) -> None:
        while True:
            try:
                raw = await self.socket.receive_text()
            except WebSocketDisconnect:
                return
            try:
                msg = _decode_client.decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                self.send(_encode({"type": "error", "error": f"invalid message: {exc}"}))
                continue
            if time.monotonic() - self.checked_at > RECHECK_S:
                await self.check_credentials()
            try:
                await self.handle(msg)
            except ServiceError as exc:
                self.send(
                    _encode(
                        {"type": "error", "error": exc.message, "request_id": msg.request_id, **exc.extra}
                    )
                )
            except DATABASE_DOWN:
                self.send(
                    _encode(
                        {
                            "type": "error",
                            "error": "the database is unavailable",
                            "request_id": msg.request_id,
                        }
                    )
                )
                raise CloseSocket(CLOSE_TRY_LATER, "database unavailable") from None
            except (CloseSocket, asyncio.CancelledError):
                raise
            except Exception:
                log.exception("socket request %s failed", msg.type)
                self.send(_encode({"type": "error", "error": "internal error", "request_id": msg.request_id}))

    async def handle(self, msg: ClientMessage) -> None:
        hub, principal = self.hub, self.principal
        if msg.type == "ping":
            self.send(_encode({"type": "pong", "request_id": msg.request_id}))
        elif msg.type == "resume":
            count = await self.replay(msg.since or 0, msg.missing)
            self.send(_encode({"type": "resumed", "replayed": count, "request_id": msg.request_id}))
        elif msg.type == "typing" and msg.conversation_id:
            if principal.kind != "agent":
                return
            await self.check_conversation(msg.conversation_id)
            event = ev.Typing(
                seq=await hub.bus.head(principal.account_id),
                account_id=str(principal.account_id),
                at=now_iso(),
                data=ev.TypingPayload(
                    conversation_id=msg.conversation_id, agent_id=str(principal.id), agent_name=principal.name
                ),
            )
            await hub.bus.ephemeral(principal.account_id, event)
        elif msg.type == "reply" and msg.conversation_id:
            message = await send_reply(
                hub,
                principal.account_id,
                msg.conversation_id,
                msg.text or "",
                Author(
                    kind="agent" if principal.kind == "agent" else "bot", id=principal.id, name=principal.name
                ),
                msg.client_id,
                msg.media,
            )
            ack = {
                "type": "ack",
                "request_id": msg.request_id,
                "client_id": msg.client_id,
                "message_id": str(message.id),
                "seq": message.seq,
            }
            self.send(_encode(ack))
        elif msg.type == "read" and msg.conversation_id:
            await mark_read(hub, principal.account_id, msg.conversation_id)
        else:
            error = {
                "type": "error",
                "error": f"unknown message type {msg.type!r}",
                "request_id": msg.request_id,
            }
            self.send(_encode(error))

    async def check_conversation(self, conversation_id: str) -> None:
        """Refuse, as every request does, a conversation that is not this account's.

        Agents send `typing` with every few keystrokes: a conversation found once is remembered for
        the socket's life (conversations are never moved between accounts).
        """
        if conversation_id in self.conversations:
            return
        await get_conversation(self.principal.account_id, conversation_id)
        if len(self.conversations) >= MAX_KNOWN_CONVERSATIONS:
            self.conversations.clear()
        self.conversations.add(conversation_id)

    async def presence(self, state: str, seq: int) -> None:
        if self.principal.kind != "agent":
            return
        event = ev.Presence(
            seq=seq,
            account_id=str(self.principal.account_id),
            at=now_iso(),
            data=ev.PresencePayload(
                agent_id=str(self.principal.id),
                agent_name=self.principal.name,
                state="online" if state == "online" else "offline",
            ),
        )
        await self.hub.bus.ephemeral(self.principal.account_id, event)
