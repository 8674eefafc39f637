"""The baseline server: bare `websockets`, calling `broadcast()` for every message published to it.

Subscribers connect to `/` and get `{"type":"ready"}` (as the hub sends `ready`); whatever a
client sends on `/publish` is broadcast as is to every subscriber.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, broadcast

from bench.children import run_loop, serve_commands


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

    # The same keepalive and frame limit as `hub serve`; compression is left at the library's
    # default, as the hub leaves uvicorn's (both negotiate permessage-deflate with the clients).
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        ping_interval=ping_interval,
        ping_timeout=ping_interval,
        max_size=1024 * 1024,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]

        async def handle(command: str, kw: dict[str, Any]) -> Any:
            if command == "port":
                return port
            if command == "subscribers":
                return len(subscribers)
            raise ValueError(f"unknown command {command}")

        await serve_commands(conn, handle)
