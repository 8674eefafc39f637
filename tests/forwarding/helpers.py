"""Shared pieces of the forwarding tests: a receiver that verifies signatures on its own, polling."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.httpserver import Recorded, Reply


def verify_signature(secret: str, headers: dict[str, str], body: bytes, max_age_s: int = 300) -> bool:
    """What a receiver does, written independently of hub.domain.forwarding."""
    stamp = headers.get("x-hub-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > max_age_s:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-hub-signature", ""))


@dataclass
class Receiver:
    """A webhook receiver: answers from a script of behaviours, de-duplicates by delivery id."""

    script: list[str] = field(default_factory=list)
    """"500", "timeout" or "ok" per request in order; "ok" once the script runs out."""
    default: str = "ok"
    hang_s: float = 3.0
    accepted: Counter[str] = field(default_factory=Counter)
    """2xx answers per delivery id the hub was there to read: after one, it must not send that id again."""
    requests: list[Recorded] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, rec: Recorded) -> Reply:
        self.requests.append(rec)
        self.arrived.set()
        action = self.script.pop(0) if self.script else self.default
        if action == "timeout":
            await asyncio.sleep(self.hang_s)
            return 200, {}, b"too late"
        if action == "500":
            return 500, {}, b"boom"
        delivery = rec.headers["x-hub-delivery"]
        self.accepted[delivery] += 1
        return 200, {"Content-Type": "application/json"}, b'{"ok":true}'


async def eventually(check: Callable[[], Any], timeout_s: float = 20.0, every_s: float = 0.2) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s (last: {result!r})")
        await asyncio.sleep(every_s)


async def delivery_with_status(
    client: httpx.AsyncClient, token: str, status: str, count: int = 1, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        r = await client.get(
            "/api/forwarding/deliveries",
            params={"status": status},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()
        return rows if len(rows) >= count else None

    rows: list[dict[str, Any]] = await eventually(check, timeout_s)
    return rows
