"""A TCP proxy in front of a hub, for outages: it forwards, swallows one direction, or drops every
connection and refuses new ones (to its clients, the hub is gone) until it is restored."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

Mode = Literal["forward", "swallow-up", "swallow-down", "cut"]


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode: Mode = "forward"
        self.port = 0
        self.accepted = 0
        """Connections accepted, refused ones included (a reconnecting client shows here)."""
        self.swallowed = {"up": 0, "down": 0}
        """Bytes dropped in each direction (up: client → hub)."""
        self.delivered = bytearray()
        """Everything passed on to the clients (with compression off, a frame's text can be found)."""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def swallow(self, direction: Literal["up", "down"]) -> None:
        """Keep the connections, but drop what goes one way (up: the client's frames never arrive)."""
        self.mode = "swallow-up" if direction == "up" else "swallow-down"

    def cut(self) -> None:
        """Drop every connection (RST) and refuse new ones: the hub is unreachable."""
        self.mode = "cut"
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.mode = "forward"

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "cut":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, "up")),
            asyncio.create_task(self._pump(up_reader, writer, "down")),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
                self._tasks.discard(task)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, direction: Literal["up", "down"]
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await source.read(65536):
                if self.mode == "cut":
                    return
                if self.mode == f"swallow-{direction}":
                    self.swallowed[direction] += len(data)
                    continue
                if direction == "down":
                    self.delivered += data
                sink.write(data)
                await sink.drain()
