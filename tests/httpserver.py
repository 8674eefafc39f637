"""A small real HTTP server for tests: records requests and answers with a handler's response."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]
Handler = Callable[[Recorded], Reply | Awaitable[Reply]]


@dataclass
class HTTPServer:
    handler: Handler
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    """0 takes a free port; a server started again keeps the one it had (connection refused between)."""
    _server: asyncio.Server | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> HTTPServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            rec = Recorded(method, path, headers, body)
            self.requests.append(rec)
            reply = self.handler(rec)
            if inspect.isawaitable(reply):
                reply = await reply
            status, out_headers, out = reply
            head_out = f"HTTP/1.1 {status} X\r\nContent-Length: {len(out)}\r\nConnection: close\r\n"
            head_out += "".join(f"{k}: {v}\r\n" for k, v in out_headers.items())
            writer.write(head_out.encode() + b"\r\n" + out)
            await writer.drain()
        finally:
            writer.close()
