"""WebSocket subscribers in child processes: they record when each benchmark message arrives.

Every benchmark message carries `"text":"bench <key> <unix time sent>"`, in the hub's
`message.created` event and in the bare server's copy of it, so a subscriber measures latency
against the sender's clock (time.time() is one clock on one machine) without a round trip to
the parent. When `notify` is on, a child tells the parent once all of its sockets have a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from array import array
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from bench.children import Child, run_loop, serve_commands

KEY = re.compile(r'"text":"(bench (\d+) (\d+\.\d+))"')
# A hub event is about 1.5 KB; the default 1 MiB cap is plenty, but replays are not expected here.
MAX_FRAME = 4 * 1024 * 1024


def bench_text(key: int, sent_at: float) -> str:
    return f"bench {key} {sent_at:.6f}"


def main(conn: Connection) -> None:
    run_loop(lambda: Subscribers(conn).run())


class Subscribers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sockets: list[ClientConnection] = []
        self.readers: set[asyncio.Task[None]] = set()
        self.open = 0
        self.notify = False
        self.sample: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.latencies = array("d")
        self.counts: dict[int, int] = {}
        self.last_recv = 0.0
        self.closed: Counter[int | None] = Counter()

    async def run(self) -> None:
        await serve_commands(self.conn, self.handle)
        await self.close()

    async def handle(self, command: str, kw: dict[str, Any]) -> Any:
        if command == "connect":
            return await self.connect(**kw)
        if command == "reset":
            self._reset()
            self.notify = bool(kw.get("notify", False))
            return self.open
        if command == "stats":
            return {
                "delivered": len(self.latencies),
                "latencies": self.latencies.tobytes(),
                "last_recv": self.last_recv,
                "open": self.open,
                "closed": {str(k): v for k, v in self.closed.items()},
                "sample": self.sample,
            }
        if command == "count":
            return len(self.latencies)
        if command == "short":
            # Keys some open socket of this process has not received (at most `limit`).
            keys = kw["keys"]
            return [k for k in keys if self.counts.get(k, 0) < self.open][: kw.get("limit", 50)]
        if command == "close":
            return await self.close()
        raise ValueError(f"unknown command {command}")

    async def connect(
        self,
        url: str,
        headers: dict[str, str],
        count: int,
        concurrency: int,
        within_s: float,
        compression: bool = True,
    ) -> dict[str, Any]:
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []

        async def one() -> None:
            async with gate:
                try:
                    ws = await websockets.connect(
                        url,
                        additional_headers=headers,
                        open_timeout=30,
                        close_timeout=2,
                        # Only the server pings, as it does for browsers; client pings would add
                        # load the benchmark does not ask for.
                        ping_interval=None,
                        max_size=MAX_FRAME,
                        # Browsers offer permessage-deflate, and both servers accept it.
                        compression="deflate" if compression else None,
                    )
                    first = await asyncio.wait_for(ws.recv(), 30)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    return
                if '"ready"' not in first:
                    errors.append(f"first frame was not ready: {str(first)[:200]}")
                    await ws.close()
                    return
                self.sockets.append(ws)
                self.open += 1
                reader = asyncio.create_task(self._read(ws))
                self.readers.add(reader)
                reader.add_done_callback(self.readers.discard)

        started = time.monotonic()
        tasks = [asyncio.create_task(one()) for _ in range(count)]
        _, pending = await asyncio.wait(tasks, timeout=within_s)
        for task in pending:
            task.cancel()
        if pending:
            errors.append(f"{len(pending)} connections still opening after {within_s:.0f} s")
        return {
            "open": self.open,
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "seconds": time.monotonic() - started,
        }

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                if isinstance(raw, str):
                    self._on_frame(raw)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.open -= 1
            self.closed[ws.close_code] += 1

    def _on_frame(self, raw: str) -> None:
        found = KEY.search(raw)
        if found is None:
            return
        now = time.time()
        key = int(found[2])
        self.latencies.append(now - float(found[3]))
        seen = self.counts.get(key, 0) + 1
        self.counts[key] = seen
        self.last_recv = max(self.last_recv, now)
        if self.sample is None:
            self.sample = raw
        if self.notify and seen == self.open:
            self.conn.send(("notice", "done", key))

    async def close(self) -> int:
        sockets, self.sockets = self.sockets, []
        if sockets:
            closing = [asyncio.create_task(ws.close()) for ws in sockets]
            _, pending = await asyncio.wait(closing, timeout=10)
            for task in pending:
                task.cancel()
            for ws in sockets:
                if ws.transport is not None:
                    ws.transport.abort()
        for reader in list(self.readers):
            reader.cancel()
        return len(sockets)


class SubscriberPool:
    """N subscribers spread over a few child processes, driven from the parent's loop."""

    def __init__(self, processes: int) -> None:
        self.children = [Child(main, name=f"subscribers-{i}") for i in range(processes)]
        for child in self.children:
            child.on_notice = self._on_notice
        self._done: Counter[int] = Counter()
        self._complete: set[int] = set()
        self._changed = asyncio.Event()
        self._reporting = len(self.children)

    def _on_notice(self, kind: str, key: Any) -> None:
        if kind != "done":
            return
        self._done[key] += 1
        if self._done[key] >= self._reporting:
            self._complete.add(key)
            self._changed.set()

    async def connect(
        self,
        url: str,
        headers: dict[str, str],
        total: int,
        wait_s: float,
        concurrency: int = 64,
        compression: bool = True,
    ) -> dict[str, Any]:
        """Open `total` sockets split evenly over the children; returns how many opened."""
        n = len(self.children)
        shares = [total // n + (1 if i < total % n else 0) for i in range(n)]
        results = await asyncio.gather(
            *(
                child.call(
                    "connect",
                    wait_s + 30,
                    url=url,
                    headers=headers,
                    count=share,
                    concurrency=max(1, concurrency // n),
                    within_s=wait_s,
                    compression=compression,
                )
                for child, share in zip(self.children, shares, strict=True)
                if share
            )
        )
        self._reporting = sum(1 for r in results if r["open"])
        errors = [r["first_error"] for r in results if r["first_error"]]
        return {
            "open": sum(r["open"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "first_error": errors[0] if errors else None,
            "seconds": max(r["seconds"] for r in results),
        }

    async def reset(self, notify: bool = False) -> None:
        self._done.clear()
        self._complete.clear()
        await asyncio.gather(*(c.call("reset", 10, notify=notify) for c in self.children))

    async def wait_done(self, keys: set[int], wait_s: float) -> bool:
        """Wait until every socket has every key in `keys`; False when `wait_s` passes first."""
        deadline = time.monotonic() + wait_s
        while not keys <= self._complete:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return True

    async def stats(self) -> dict[str, Any]:
        parts = await asyncio.gather(*(c.call("stats", 60) for c in self.children))
        latencies: list[float] = []
        closed: Counter[str] = Counter()
        for part in parts:
            values = array("d")
            values.frombytes(part["latencies"])
            latencies.extend(values)
            closed.update(part["closed"])
        samples = [p["sample"] for p in parts if p["sample"]]
        return {
            "delivered": len(latencies),
            "latencies": latencies,
            "last_recv": max((p["last_recv"] for p in parts), default=0.0) or math.nan,
            "open": sum(p["open"] for p in parts),
            "closed": dict(closed),
            "sample": samples[0] if samples else None,
        }

    async def wait_delivered(self, expected: int, wait_s: float, idle: float = 3.0) -> dict[str, Any]:
        """Poll until `expected` deliveries arrived, nothing arrived for `idle` s, or `wait_s`."""
        deadline = time.monotonic() + wait_s
        last_count, last_change = -1, time.monotonic()
        while True:
            delivered = sum(await asyncio.gather(*(c.call("count", 30) for c in self.children)))
            now = time.monotonic()
            if delivered != last_count:
                last_count, last_change = delivered, now
            if delivered >= expected or now > deadline or now - last_change > idle:
                return await self.stats()
            await asyncio.sleep(0.25)

    async def short_keys(self, keys: list[int], limit: int = 50) -> list[int]:
        """The keys of `keys` that some subscriber has not received, at most `limit`."""
        parts = await asyncio.gather(*(c.call("short", 60, keys=keys, limit=limit) for c in self.children))
        return sorted({k for part in parts for k in part})[:limit]

    async def close_sockets(self) -> None:
        await asyncio.gather(*(c.call("close", 30) for c in self.children))

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.children), return_exceptions=True)
