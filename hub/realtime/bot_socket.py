"""Sockets of API tokens limited to some numbers (/ws) and of chatbots (/ws/bot).

Both are the agent socket (hub.realtime.agent_socket) with a filter in front of its outbox: a
durable event of another number, or one the socket does not pass on, goes out as a tiny
`{"type":"skip","seq":N}` instead, so the client's sequence bookkeeping (highest seq, holes) stays
exact and a reconnect with `since` never asks for events it was never meant to see. The filter
reads the event's own conversation snapshot (number, hand-over flag): no query per event, and it
runs synchronously in the fan-out loop like every delivery.

A bot's socket (docs/websocket-api.md, "Bots") additionally:

- receives only `message.created` of inbound messages and `conversation.updated`, of its
  numbers, and not the messages of a conversation handed over to a human;
- resumes, when it connects without `since`, from the position it last acknowledged (stored
  on its token, hub.services.bots), so events after it are sent again: at least once;
- acknowledges with `ack`, hands conversations over with `handover` and back with `handback`.

Its queue is the same bounded outbox as every socket's: a bot that stops reading is cut off
(4408) like a slow panel, and the fan-out never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar import WebSocket, websocket

from hub.domain import events as ev
from hub.metrics import socket_open
from hub.realtime.agent_socket import (
    CLOSE_POLICY,
    AgentSession,
    ClientMessage,
    _peek,
    open_socket,
    parse_resume,
)
from hub.realtime.wire import OutgoingEvent
from hub.services import bots, scope
from hub.services.errors import Invalid

log = logging.getLogger(__name__)


class _Conv(msgspec.Struct):
    number_id: str | None = None
    handover: bool = False


class _Data(msgspec.Struct):
    number_id: str | None = None
    direction: str | None = None
    handover: bool = False


class _Head(msgspec.Struct):
    """What the filter needs of an event; other fields are skipped by the decoder."""

    type: str = ""
    seq: int = 0
    data: _Data | None = None
    conversation: _Conv | None = None


_decode_head = msgspec.json.Decoder(_Head)
_encode = msgspec.json.encode


def skip_frame(seq: int) -> bytes:
    return _encode(ev.Skip(seq=seq))


class ScopedSession(AgentSession):
    """A socket of a token scoped to numbers: only their conversations' durable events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.numbers = {str(n) for n in self.principal.numbers}

    def number_of(self, head: _Head) -> str | None:
        if head.type == "message.created":
            return head.conversation.number_id if head.conversation else None
        if head.type == "conversation.updated":
            return head.data.number_id if head.data else None
        # message.status and survey.results do not name a number: not given to scoped sockets.
        return None

    def passes(self, head: _Head) -> bool:
        number = self.number_of(head)
        return number is not None and (not self.numbers or number in self.numbers)

    def _filtered(self, payload: bytes, seq: int) -> bytes | None:
        """None when the event goes out as it is, else the frame to send in its place."""
        try:
            head = _decode_head.decode(payload)
        except msgspec.DecodeError:
            return skip_frame(seq)
        return None if self.passes(head) else skip_frame(seq)

    def _send_live(self, event: OutgoingEvent) -> None:
        head = event.head
        if head is None:
            head = event.head = _peek.decode(event.payload)
        if head.type not in ev.DURABLE_TYPES:
            # typing/presence name conversations and agents of every number: not for a scoped token.
            return
        if not self._first_time(head.seq):
            return
        instead = self._filtered(event.payload, head.seq)
        self.outbox.push(event if instead is None else instead)

    def send_event(self, payload: bytes) -> int:
        head = _peek.decode(payload)
        if head.type not in ev.DURABLE_TYPES or not self._first_time(head.seq):
            return 0
        instead = self._filtered(payload, head.seq)
        self.send(payload if instead is None else instead)
        return 1 if instead is None else 0

    async def handle(self, msg: ClientMessage) -> None:
        # Replies and reads name a conversation: it must be of the token's numbers (404 otherwise,
        # like another account's).
        if msg.type in {"reply", "read", "handover", "handback"} and msg.conversation_id:
            await scope.conversation(self.principal, msg.conversation_id)
        await super().handle(msg)


class BotSession(ScopedSession):
    """A chatbot's socket: inbound messages of its numbers, stored acknowledgements, hand-over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resumed_from: tuple[int | None, list[int]] = (None, [])
        self._ack: tuple[int, list[int]] | None = None
        self._ack_writer: asyncio.Task[bool] | None = None

    def passes(self, head: _Head) -> bool:
        if not super().passes(head):
            return False
        if head.type == "message.created":
            # Only what customers write, and nothing of a conversation a human has taken over.
            inbound = head.data is not None and head.data.direction == "in"
            return inbound and not (head.conversation is not None and head.conversation.handover)
        return head.type == "conversation.updated"

    async def run(self, since: int | None, missing: list[int]) -> None:
        if since is None:
            try:
                head = await self.hub.bus.head(self.principal.account_id)
                since, missing = await bots.position(self.principal.id, head)
            except Exception:
                log.exception("reading a bot's stored position failed")
                with contextlib.suppress(Exception):
                    await self.socket.close(code=1013, reason="database unavailable")
                return
        self.resumed_from = (since, missing)
        try:
            await super().run(since, missing)
        finally:
            # Acknowledgements still being written finish even though the socket has gone.
            writer = self._ack_writer
            if writer is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await asyncio.shield(writer)

    async def ready_frame(self, head: int, replayed: int) -> dict[str, Any]:
        frame = await super().ready_frame(head, replayed)
        frame["principal"]["numbers"] = sorted(self.numbers)
        frame["resume"] = {"since": self.resumed_from[0], "missing": self.resumed_from[1]}
        return frame

    async def handle(self, msg: ClientMessage) -> None:
        principal = self.principal
        if msg.type == "ack":
            if msg.seq is None:
                raise Invalid("ack needs seq", field="seq")
            self._ack = (msg.seq, list(msg.missing))
            if msg.request_id is not None:
                # The bot wants to know it is stored: write it now.
                if await self._write_acks(msg.request_id):
                    self.send(_encode({"type": "acked", "seq": msg.seq, "request_id": msg.request_id}))
            elif self._ack_writer is None or self._ack_writer.done():
                # One write at a time, of the latest ack: a bot acking every event costs the
                # database a write per round trip, not a write per event.
                self._ack_writer = asyncio.create_task(self._write_acks(), name="bot-ack")
        elif msg.type == "handover" and msg.conversation_id:
            await bots.handover(self.hub, principal, msg.conversation_id, msg.note)
            self.send(
                _encode(
                    {
                        "type": "handed_over",
                        "conversation_id": msg.conversation_id,
                        "request_id": msg.request_id,
                    }
                )
            )
        elif msg.type == "handback" and msg.conversation_id:
            await bots.handback(self.hub, principal, msg.conversation_id)
            self.send(
                _encode(
                    {
                        "type": "handed_back",
                        "conversation_id": msg.conversation_id,
                        "request_id": msg.request_id,
                    }
                )
            )
        elif msg.type in {"handover", "handback"}:
            raise Invalid(f"{msg.type} needs conversation_id", field="conversation_id")
        elif msg.type == "typing":
            return
        else:
            await super().handle(msg)

    async def _write_acks(self, request_id: str | None = None) -> bool:
        """Store the latest ack until none is waiting; returns whether the last one was stored."""
        stored = False
        while self._ack is not None:
            (seq, missing), self._ack = self._ack, None
            stored = False
            head = await self.hub.bus.head(self.principal.account_id)
            if seq > head:
                # An ack ahead of the log would make a later resume skip events never sent.
                error = f"ack {seq} is ahead of the account's events ({head})"
                self.send(_encode({"type": "error", "error": error, "request_id": request_id}))
                continue
            try:
                await bots.store_ack(self.principal.id, seq, missing)
                stored = True
            except Exception:
                log.exception("storing a bot's acknowledgement failed")
                error = "the acknowledgement was not stored"
                self.send(_encode({"type": "error", "error": error, "request_id": request_id}))
        return stored


@websocket("/ws/bot")
async def bot_socket(socket: WebSocket[Any, Any, Any]) -> None:
    hub = socket.app.state.hub
    opened = await open_socket(socket)
    if opened is None:
        return
    principal, token = opened
    if principal.kind != "token":
        await socket.send_text(_encode({"type": "error", "error": "/ws/bot takes an API token"}).decode())
        await socket.close(code=CLOSE_POLICY, reason="/ws/bot takes an API token")
        return
    try:
        since, missing = parse_resume(socket.query_params.get("since"), socket.query_params.get("missing"))
    except ValueError as exc:
        await socket.close(code=CLOSE_POLICY, reason=f"since/missing: {exc}"[:120])
        return
    async with socket_open("bot"):
        await BotSession(hub, socket, principal, token).run(since, missing)
