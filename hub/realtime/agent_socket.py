"""The agent panel's WebSocket: live events with resume by sequence number.

Protocol (docs/websocket-api.md): connect to /ws?since=N; the server replays durable events
with seq > N from MongoDB, sends `ready`, then streams live events. The subscription starts
before the replay query, so an event stored during the replay arrives live; the socket skips
live events it already replayed. Nothing is lost between the two and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from hub.api.deps import credential
from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.bus import now_iso
from hub.realtime.fanout import SubscriberClosed
from hub.services import auth
from hub.services.conversations import mark_read
from hub.services.errors import ServiceError
from hub.services.outbound import Author, send_reply

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW = 4408
CLOSE_RESTART = 1012
SEND_TIMEOUT_S = 10.0


class ClientMessage(msgspec.Struct):
    type: str
    conversation_id: str | None = None
    text: str | None = None
    client_id: str | None = None
    since: int | None = None
    request_id: str | None = None


_decode_client = msgspec.json.Decoder(ClientMessage)
_encode = msgspec.json.encode


class SeqOnly(msgspec.Struct):
    seq: int = 0
    type: str = ""


_peek = msgspec.json.Decoder(SeqOnly)


@websocket("/ws")
async def agent_socket(socket: WebSocket[Any, Any, Any]) -> None:
    hub: HubContext = socket.app.state.hub
    token = credential(socket)
    principal = await auth.resolve(token) if token else None
    await socket.accept()
    if principal is None:
        await socket.send_text(_encode({"type": "error", "error": "not authenticated"}))
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="not authenticated")
        return
    raw_since = socket.query_params.get("since")
    since: int | None = None
    if raw_since is not None:
        try:
            since = int(raw_since)
        except ValueError:
            await socket.close(code=1008, reason="since must be a whole number")
            return
    session = AgentSession(hub, socket, principal)
    await session.run(since)


class AgentSession:
    def __init__(self, hub: HubContext, socket: WebSocket[Any, Any, Any], principal: auth.Principal) -> None:
        self.hub = hub
        self.socket = socket
        self.principal = principal
        self.replayed: set[int] = set()
        self.send_lock = asyncio.Lock()

    async def send(self, payload: bytes) -> None:
        async with self.send_lock:
            await asyncio.wait_for(self.socket.send_text(payload.decode()), SEND_TIMEOUT_S)

    async def replay(self, since: int) -> int:
        """Send durable events after `since` from MongoDB; returns how many."""
        limit = self.hub.settings.realtime.resume_limit
        backlog = await self.hub.bus.since(self.principal.account_id, since, limit)
        if len(backlog) > limit:
            # Too far behind to replay: the client reloads its state over REST, then resumes.
            await self.send(_encode({"type": "reset", "reason": f"more than {limit} events missed"}))
            return 0
        for payload in backlog:
            self.replayed.add(_peek.decode(payload).seq)
            await self.send(payload)
        return len(backlog)

    async def run(self, since: int | None) -> None:
        hub, principal = self.hub, self.principal
        channel = hub.bus.account_channel(principal.account_id)
        close_code, close_reason = 1000, "bye"
        async with hub.fanout.subscribe(channel) as sub:
            head = await hub.bus.head(principal.account_id)
            replayed = await self.replay(since) if since is not None else 0
            await self.send(
                _encode(
                    {
                        "type": "ready",
                        "seq": head,
                        "replayed": replayed,
                        "principal": {
                            "kind": principal.kind,
                            "id": str(principal.id),
                            "name": principal.name,
                        },
                    }
                )
            )
            await self.presence("online", head)
            pump = asyncio.create_task(self.pump(sub))
            reader = asyncio.create_task(self.read())
            try:
                done, _ = await asyncio.wait({pump, reader}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = task.exception()
                    if isinstance(exc, SubscriberClosed):
                        close_code = CLOSE_SLOW if "slow" in exc.reason else CLOSE_RESTART
                        close_reason = exc.reason
                    elif isinstance(exc, asyncio.TimeoutError):
                        close_code, close_reason = CLOSE_SLOW, "slow consumer: send timed out"
            finally:
                for task in (pump, reader):
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                with contextlib.suppress(Exception):
                    await self.presence("offline", await hub.bus.head(principal.account_id))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(code=close_code, reason=close_reason[:120]), 2.0)

    async def pump(self, sub: Any) -> None:
        while True:
            payload = await sub.get()
            if self.replayed:
                head = _peek.decode(payload)
                if head.type in ev.DURABLE_TYPES and head.seq in self.replayed:
                    self.replayed.discard(head.seq)
                    continue
            await self.send(payload)

    async def read(self) -> None:
        while True:
            try:
                raw = await self.socket.receive_text()
            except WebSocketDisconnect:
                return
            try:
                msg = _decode_client.decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                await self.send(_encode({"type": "error", "error": f"invalid message: {exc}"}))
                continue
            try:
                await self.handle(msg)
            except ServiceError as exc:
                await self.send(
                    _encode(
                        {"type": "error", "error": exc.message, "request_id": msg.request_id, **exc.extra}
                    )
                )

    async def handle(self, msg: ClientMessage) -> None:
        hub, principal = self.hub, self.principal
        if msg.type == "ping":
            await self.send(_encode({"type": "pong", "request_id": msg.request_id}))
        elif msg.type == "resume":
            count = await self.replay(msg.since or 0)
            await self.send(_encode({"type": "resumed", "replayed": count, "request_id": msg.request_id}))
        elif msg.type == "typing" and msg.conversation_id:
            if principal.kind != "agent":
                return
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
            )
            await self.send(
                _encode(
                    {
                        "type": "ack",
                        "request_id": msg.request_id,
                        "client_id": msg.client_id,
                        "message_id": str(message.id),
                        "seq": message.seq,
                    }
                )
            )
        elif msg.type == "read" and msg.conversation_id:
            await mark_read(hub, principal.account_id, msg.conversation_id)
        else:
            await self.send(
                _encode(
                    {
                        "type": "error",
                        "error": f"unknown message type {msg.type!r}",
                        "request_id": msg.request_id,
                    }
                )
            )

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
