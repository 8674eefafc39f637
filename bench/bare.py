"""The baseline server: bare `websockets`, calling `broadcast()` for every message published to it.

Subscribers connect to `/` and get `{"type":"ready"}` (as the hub sends `ready`); whatever a
client sends on `/publish` is broadcast as is to every subscriber.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, broadcast
from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from bench.children import run_loop, serve_commands
from hub.realtime.wire import COMPRESS_SETTINGS, WINDOW_BITS


def extensions(mode: str) -> list[ServerExtensionFactory]:
    """The permessage-deflate offer the hub makes in `mode` (HUB_WS_DEFLATE), so both servers put
    the same bytes on the wire: none, deflate with context takeover, or without it ("shared")."""
    if mode == "off":
        return []
    return [
        ServerPerMessageDeflateFactory(
            server_max_window_bits=WINDOW_BITS,
            client_max_window_bits=WINDOW_BITS,
            server_no_context_takeover=mode == "shared",
            compress_settings=COMPRESS_SETTINGS,
        )
    ]


def main(conn: Connection, ping_interval: float) -> None:
    run_loop(lambda: _serve(conn, ping_interval))


async def _serve(conn: Connection, ping_interval: float) -> None:
    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/publish":
            async for message in ws:
                broadcast(subscribers, message)
            return
        await ws.send('{"type":"ready"}')
        subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    # The same keepalive, frame limit and permessage-deflate parameters as `hub serve` (the
    # environment's HUB_WS_DEFLATE, read by both). `broadcast()` still encodes each socket's frame
    # on its own: with deflate it compresses once per socket, where the hub shares one frame.
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        ping_interval=ping_interval,
        ping_timeout=ping_interval,
        max_size=1024 * 1024,
        compression=None,
        extensions=extensions(os.environ.get("HUB_WS_DEFLATE", "shared").strip()),
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]

        async def handle(command: str, kw: dict[str, Any]) -> Any:
            if command == "port":
                return port
            if command == "subscribers":
                return len(subscribers)
            raise ValueError(f"unknown command {command}")

        await serve_commands(conn, handle)
