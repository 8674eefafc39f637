"""The TV vote's open screens, in a child process: agent panels and a billboard, recording arrivals.

Each socket records, for every vote it is shown, which phone sent it and when it arrived: a panel
from `message.created` (inbound), the billboard from `display.message` (the benchmark's screen
shows numbers unmasked, so the sender names the vote). Phones are `<prefix><index>`, so a phone
is the vote's key. The survey chart is the `survey.results` frames on the panels and
`display.results` on the screen: the highest total each socket saw is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from array import array
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from bench.children import run_loop, serve_commands
from bench.subscribers import MAX_FRAME

_SENDER = re.compile(r'"sender":"\+?(\d+)"')
_TOTAL = re.compile(r'"total":(\d+)')
_SHOWN = ('"type":"message.created"', '"type":"display.message"')
_RESULTS = ('"type":"survey.results"', '"type":"display.results"')


def main(conn: Connection) -> None:
    run_loop(lambda: Watchers(conn).run())


class Socket:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.lstrip("+")
        self.keys = array("q")
        self.times = array("d")
        self.chart_total = 0

    def saw(self, raw: str) -> None:
        if any(kind in raw for kind in _SHOWN):
            if '"direction":"out"' in raw:
                return
            found = _SENDER.search(raw)
            if found is not None and found[1].startswith(self.prefix):
                self.keys.append(int(found[1][len(self.prefix) :]))
                self.times.append(time.time())
        elif any(kind in raw for kind in _RESULTS):
            # One question: its total is the number of votes counted.
            self.chart_total = max([self.chart_total, *(int(t) for t in _TOTAL.findall(raw))])

    def reset(self) -> None:
        self.keys = array("q")
        self.times = array("d")


class Watchers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sockets: list[Socket] = []
        self.clients: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        await serve_commands(self.conn, self.handle)
        await self.close()

    async def handle(self, command: str, kw: dict[str, Any]) -> Any:
        if command == "connect":
            return await self.connect(kw["urls"], kw["prefix"], kw["within_s"])
        if command == "reset":
            for socket in self.sockets:
                socket.reset()
            return len(self.sockets)
        if command == "count":
            return sum(len(s.keys) for s in self.sockets)
        if command == "stats":
            return [
                {"keys": s.keys.tobytes(), "times": s.times.tobytes(), "chart_total": s.chart_total}
                for s in self.sockets
            ]
        if command == "close":
            return await self.close()
        raise ValueError(f"unknown command {command}")

    async def connect(self, urls: list[tuple[str, dict[str, str]]], prefix: str, wait_s: float) -> int:
        """Open every socket and wait for its `ready`; fails unless all open."""

        async def one(url: str, headers: dict[str, str]) -> None:
            ws = await websockets.connect(
                url, additional_headers=headers, open_timeout=30, ping_interval=None, max_size=MAX_FRAME
            )
            self.clients.append(ws)
            socket = Socket(prefix)
            while '"type":"ready"' not in str(await ws.recv()):
                pass
            self.sockets.append(socket)
            self.readers.append(asyncio.create_task(self._read(ws, socket)))

        async with asyncio.timeout(wait_s):
            await asyncio.gather(*(one(url, headers) for url, headers in urls))
        return len(self.sockets)

    async def _read(self, ws: ClientConnection, socket: Socket) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                if isinstance(raw, str):
                    socket.saw(raw)

    async def close(self) -> int:
        for reader in self.readers:
            reader.cancel()
        clients, self.clients = self.clients, []
        for ws in clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        return len(clients)
