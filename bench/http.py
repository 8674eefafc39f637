"""A minimal HTTP/1.1 keep-alive client for the load generators.

httpx costs several times more CPU per request; on a two-core machine every cycle the load
generator spends is taken from the hub it measures, so the senders speak HTTP themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

_HEAD_LIMIT = 64 * 1024
# uvicorn closes a keep-alive connection idle for 5 s; one idle longer is not reused, so a
# request never races the server's close.
_IDLE_REUSE_S = 3.0


class HttpError(Exception):
    pass


class HttpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host
        self.reusable = True
        self.idle_since = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int, wait_s: float = 10.0) -> HttpConnection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=_HEAD_LIMIT), wait_s
        )
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip().lower()
        if fields.get("transfer-encoding") == "chunked":
            payload = await self._read_chunked()
        else:
            payload = await self._reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection") == "close":
            self.reusable = False
        return status, payload

    async def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def close(self) -> None:
        self.reusable = False
        self._writer.close()


class HttpPool:
    """At most `limit` keep-alive connections to one server; a request waits for a free one."""

    def __init__(self, host: str, port: int, limit: int = 64) -> None:
        self.host = host
        self.port = port
        self._idle: list[HttpConnection] = []
        self._slots = asyncio.Semaphore(limit)
        self._all: set[HttpConnection] = set()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        async with self._slots:
            conn = self._take_idle()
            if conn is None:
                conn = await HttpConnection.open(self.host, self.port)
                self._all.add(conn)
            try:
                result = await conn.request(method, path, body, headers)
            except BaseException:
                conn.close()
                self._all.discard(conn)
                raise
            if conn.reusable:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
                self._all.discard(conn)
            return result

    def _take_idle(self) -> HttpConnection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < _IDLE_REUSE_S:
                return conn
            conn.close()
            self._all.discard(conn)
        return None

    async def close(self) -> None:
        for conn in self._all:
            with contextlib.suppress(Exception):
                conn.close()
        self._all.clear()
        self._idle.clear()


def signed_webhook(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a generic webhook signed as docs/webhooks.md describes."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-Hub-Timestamp": stamp,
        "X-Hub-Signature": f"sha256={mac}",
    }


async def wait_healthy(host: str, port: int, wait_s: float, alive: Any = None) -> None:
    """Poll GET /health until it answers 200; `alive()` returning False gives up early."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise HttpError("the server exited while starting")
        try:
            conn = await HttpConnection.open(host, port, wait_s=1.0)
            try:
                status, _ = await asyncio.wait_for(conn.request("GET", "/health"), 2.0)
            finally:
                conn.close()
            if status == 200:
                return
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass
        await asyncio.sleep(0.1)
    raise HttpError(f"http://{host}:{port}/health did not answer 200 within {wait_s:.0f} s")
