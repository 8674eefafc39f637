"""The screens' WebSocket (/ws/display) and the moderators' queue notices (/ws/display/moderate).

A screen connects with its link's token and optionally `since=N`. The server subscribes to the
screen's channel first, then reads the head of the screen's log, then sends either the events
after N from MongoDB (a resume) or a `snapshot` (first load, or when N is too old), then `ready`,
then live events. An event stored during the replay arrives live as well; the socket skips seqs
it already sent, so nothing is lost between replay and live and nothing is sent twice.

The token reaches this screen's channel and log only: never the account's channel, the
moderation queue or any REST endpoint of the account.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from beanie import PydanticObjectId
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from hub.api.deps import credential
from hub.api.errors import DATABASE_DOWN
from hub.context import HubContext
from hub.domain import display_events as dev
from hub.metrics import socket_open
from hub.realtime import agent_socket
from hub.realtime.agent_socket import (
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHORIZED,
    SEND_TIMEOUT_S,
    parse_resume,
)
from hub.realtime.fanout import SubscriberClosed, Subscription
from hub.services import auth
from hub.services import displays as svc
from hub.services.live import survey_results
from hub.store.displays import DisplayDoc
from hub.store.keywords import SurveyDoc

log = logging.getLogger(__name__)

_encode = msgspec.json.encode


class _Head(msgspec.Struct):
    type: str = ""
    seq: int = 0


_peek = msgspec.json.Decoder(_Head)


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _send(socket: WebSocket[Any, Any, Any], payload: bytes) -> None:
    # A screen that cannot take a frame within the timeout is closed; it resumes from its seq.
    async with asyncio.timeout(SEND_TIMEOUT_S):
        await socket.send_text(payload.decode())


async def _snapshot(display: DisplayDoc, seq: int) -> bytes:
    results = None
    if display.survey_id is not None:
        survey = await SurveyDoc.find_one({"_id": display.survey_id, "account_id": display.account_id})
        if survey is not None:
            results = await survey_results(survey)
    body = {
        "type": "snapshot",
        "seq": seq,
        "display_id": str(display.id),
        "config": svc.config_payload(display),
        "messages": await svc.snapshot(display, seq),
        "results": results,
    }
    return _encode(body)


async def _read(socket: WebSocket[Any, Any, Any]) -> None:
    """Answer pings; return when the screen goes away. Screens send nothing else."""
    while True:
        try:
            raw = await socket.receive_text()
        except WebSocketDisconnect:
            return
        if '"ping"' in raw:
            await _send(socket, _encode({"type": "pong"}))


async def _forward(socket: WebSocket[Any, Any, Any], sub: Subscription, sent: set[int]) -> None:
    while True:
        payload = await sub.get()
        head = _peek.decode(payload)
        if head.type == "display.closed":
            await _send(socket, payload)
            raise _Closed(CLOSE_UNAUTHORIZED, "the screen link was revoked")
        if head.type in dev.DURABLE_DISPLAY_TYPES:
            if head.seq in sent:
                continue
            sent.add(head.seq)
        await _send(socket, payload)


@websocket("/ws/display")
async def display_socket(socket: WebSocket[Any, Any, Any]) -> None:
    hub: HubContext = socket.app.state.hub
    token = socket.query_params.get("token") or ""
    try:
        display = await svc.by_token(token)
    except DATABASE_DOWN as exc:
        await agent_socket.refuse_try_later(socket, exc)
        return
    await socket.accept()
    if display is None or display.id is None:
        await socket.send_text(_encode({"type": "error", "error": "unknown or revoked screen link"}).decode())
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="unknown or revoked screen link")
        return
    try:
        since, missing = parse_resume(socket.query_params.get("since"), socket.query_params.get("missing"))
    except ValueError as exc:
        await socket.close(code=CLOSE_POLICY, reason=f"since: {exc}"[:120])
        return
    code, reason = 1000, "bye"
    try:
        async with socket_open("screen"):
            code, reason = await _serve(hub, socket, display, since, missing)
    except SubscriberClosed as exc:
        code, reason = CLOSE_TRY_LATER, exc.reason
    except _Closed as exc:
        code, reason = exc.code, exc.reason
    except DATABASE_DOWN as exc:
        log.warning("screen socket closed: database unavailable: %s", exc)
        code, reason = CLOSE_TRY_LATER, "database unavailable"
    except (TimeoutError, WebSocketDisconnect):
        code, reason = CLOSE_TRY_LATER, "the screen is not reading"
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2.0):
            await socket.close(code=code, reason=reason[:120])


async def _serve(
    hub: HubContext,
    socket: WebSocket[Any, Any, Any],
    display: DisplayDoc,
    since: int | None,
    missing: list[int],
) -> tuple[int, str]:
    assert display.id is not None
    sent: set[int] = set()
    async with hub.fanout.subscribe(svc.channel(hub, display.id)) as sub:
        # Read after subscribing: whatever is stored after this read also arrives live.
        top = await svc.head(display.id)
        replayed = 0
        limit = hub.settings.realtime.resume_limit
        backlog: list[bytes] | None = None
        if since is not None and since <= top and (since == top or await svc.holds_after(display.id, since)):
            backlog = await svc.since(display.id, since, limit, missing)
            if len(backlog) > limit:
                backlog = None
        if backlog is None:
            # First load, or too far behind to replay: the screen starts over from a snapshot.
            await _send(socket, await _snapshot(display, top))
        else:
            for payload in backlog:
                sent.add(_peek.decode(payload).seq)
                await _send(socket, payload)
                replayed += 1
        await _send(socket, _encode({"type": "ready", "seq": top, "replayed": replayed}))
        reader = asyncio.create_task(_read(socket), name="display-read")
        pump = asyncio.create_task(_forward(socket, sub, sent), name="display-forward")
        try:
            await asyncio.wait({reader, pump}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, pump):
                task.cancel()
            await asyncio.wait({reader, pump}, timeout=5)
        for task in (pump, reader):
            exc = task.exception() if task.done() and not task.cancelled() else None
            if isinstance(exc, _Closed | SubscriberClosed | TimeoutError):
                raise exc
            if exc is not None and not isinstance(exc, WebSocketDisconnect):
                log.error("screen socket failed", exc_info=exc)
                return CLOSE_INTERNAL, "internal error"
    return 1000, "bye"


async def _recheck(token: str) -> None:
    """Close a moderator's socket once the session ends or the token is revoked."""
    while True:
        await asyncio.sleep(agent_socket.RECHECK_S)
        if await auth.resolve(token) is None:
            raise _Closed(CLOSE_UNAUTHORIZED, "credentials revoked or expired")


@websocket("/ws/display/moderate")
async def moderation_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Queue notices of one screen for the account's agents (the panel reloads the queue on each)."""
    hub: HubContext = socket.app.state.hub
    token = credential(socket)
    raw_id = socket.query_params.get("display_id") or ""
    display = None
    try:
        principal = await auth.resolve(token) if token else None
        if principal is not None and PydanticObjectId.is_valid(raw_id):
            display = await DisplayDoc.find_one(
                {"_id": PydanticObjectId(raw_id), "account_id": principal.account_id}
            )
    except DATABASE_DOWN as down:
        await agent_socket.refuse_try_later(socket, down)
        return
    await socket.accept()
    if principal is None or display is None:
        reason = "not authenticated" if principal is None else "no such display"
        await socket.send_text(_encode({"type": "error", "error": reason}).decode())
        await socket.close(code=CLOSE_UNAUTHORIZED if principal is None else CLOSE_POLICY, reason=reason)
        return
    code, reason = 1000, "bye"
    try:
        async with (
            hub.fanout.subscribe(svc.moderation_channel(hub, raw_id)) as sub,
            socket_open("moderation"),
        ):
            await _send(socket, _encode({"type": "ready"}))
            tasks = {
                asyncio.create_task(_read(socket)),
                asyncio.create_task(_forward(socket, sub, set())),
                asyncio.create_task(_recheck(token or "")),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=5)
            for task in done:
                exc = task.exception() if not task.cancelled() else None
                if isinstance(exc, _Closed):
                    code, reason = exc.code, exc.reason
    except SubscriberClosed as exc:
        code, reason = CLOSE_TRY_LATER, exc.reason
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2.0):
            await socket.close(code=code, reason=reason[:120])
