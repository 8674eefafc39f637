"""The `/ws` route: an agent's socket, or a token's; a token scoped to numbers gets the scoped session.

Apart from both sessions, so that the scoped one (`bot_socket`), built on the agent's, is not
imported back by it.
"""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket

from hub.context import HubContext
from hub.metrics import socket_open
from hub.realtime.agent_socket import CLOSE_POLICY, AgentSession, open_socket, parse_resume
from hub.realtime.bot_socket import ScopedSession


@websocket("/ws")
async def agent_socket(socket: WebSocket[Any, Any, Any]) -> None:
    hub: HubContext = socket.app.state.hub
    opened = await open_socket(socket)
    if opened is None:
        return
    principal, token = opened
    try:
        since, missing = parse_resume(socket.query_params.get("since"), socket.query_params.get("missing"))
    except ValueError as exc:
        await socket.close(code=CLOSE_POLICY, reason=f"since/missing: {exc}"[:120])
        return
    async with socket_open("agent"):
        if principal.numbers:
            # A token scoped to numbers sees only their conversations' events.
            await ScopedSession(hub, socket, principal, token).run(since, missing)
            return
        await AgentSession(hub, socket, principal, token).run(since, missing)
