"""A WebSocket client that behaves like an agent panel: records every event it receives."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from hub.domain.events import decode_event
from hub.tasks import cancel_and_wait


class Panel:
    def __init__(self, ws_base: str, token: str, since: int | None = None) -> None:
        query = f"?since={since}" if since is not None else ""
        self.url = f"{ws_base}/ws{query}"
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.ready: dict[str, Any] | None = None
        self._conn: ClientConnection | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.closed_code: int | None = None

    async def __aenter__(self) -> Panel:
        self._conn = await websockets.connect(
            self.url, additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=10
        )
        self._reader = asyncio.create_task(self._read())
        self.ready = await self.next("ready")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._conn.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._reader)

    async def _read(self) -> None:
        assert self._conn is not None
        try:
            async for raw in self._conn:
                data = json.loads(raw)
                if data.get("type") in {
                    "message.created",
                    "message.status",
                    "conversation.updated",
                    "survey.results",
                    "campaign.progress",
                    "note.created",
                    "mention",
                    "typing",
                    "presence",
                }:
                    decode_event(raw)  # every pushed event must match its schema
                    self.events.append(data)
                await self._inbox.put(data)
        except websockets.ConnectionClosed as exc:
            self.closed_code = exc.rcvd.code if exc.rcvd else None
        finally:
            if self._conn is not None and self._conn.close_code is not None:
                self.closed_code = self._conn.close_code
            await self._inbox.put({"type": "__closed__", "code": self.closed_code})

    async def next(self, type_: str | None = None, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next message of `type_` (and matching `match` on its data), skipping others."""

        async def find() -> dict[str, Any]:
            while True:
                item = await self._inbox.get()
                if item["type"] == "__closed__":
                    raise ConnectionError(f"socket closed with code {item['code']} while waiting for {type_}")
                if type_ is not None and item["type"] != type_:
                    continue
                data = item.get("data", {})
                if all(data.get(k) == v for k, v in match.items()):
                    return item

        return await asyncio.wait_for(find(), timeout)

    async def send(self, payload: dict[str, Any]) -> None:
        assert self._conn is not None
        await self._conn.send(json.dumps(payload))

    def seqs(self, durable_only: bool = True) -> list[int]:
        kinds = {"message.created", "message.status", "conversation.updated", "survey.results"}
        return [e["seq"] for e in self.events if not durable_only or e["type"] in kinds]
