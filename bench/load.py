"""The senders: signed webhooks to hub processes, or frames to the bare server's publish socket.

A sender is `await send(key, sent_at)`: `sent_at` (unix time) goes into the message text, so
subscribers measure from the moment the sender meant to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import websockets
from websockets.asyncio.client import ClientConnection

from bench.http import HttpError, HttpPool, signed_webhook
from bench.stack import WEBHOOK_SECRET, Tenant
from bench.subscribers import KEY, bench_text

Send = Callable[[int, float], Awaitable[None]]
Payload = Callable[[int, float], tuple[str, str]]
"""A webhook's sender phone and text for a key and its scheduled send time."""
WEBHOOK_PATH = "/webhooks/generic/inbound"
PLACEHOLDER = "@@BENCH_TEXT@@"
# Used only if the hub delivered nothing to copy: an event of the hub's shape and size.
_FALLBACK_EVENT = (
    '{"type":"message.created","seq":1,"account_id":"000000000000000000000000","at":"2026-01-01T00:00:00Z",'
    '"data":{"id":"000000000000000000000000","conversation_id":"000000000000000000000000","direction":"in",'
    '"sender":"+48600700000","recipient":"+48500100200","text":"@@BENCH_TEXT@@","media":[],'
    '"status":"received","status_history":[{"status":"received","at":"2026-01-01T00:00:00Z","detail":null}],'
    '"author":{"kind":"contact","id":"000000000000000000000000","name":null},"segments":1,"encoding":"GSM-7",'
    '"seq":1,"created_at":"2026-01-01T00:00:00Z"},"conversation":{"id":"000000000000000000000000",'
    '"number_id":"000000000000000000000000","number":"+48500100200","contact":{"id":"000000000000000000000000",'
    '"phone":"+48600700000","name":null},"status":"open","assignee_id":null,"unread":1,"last_message":'
    '{"text":"@@BENCH_TEXT@@","direction":"in","at":"2026-01-01T00:00:00Z","has_media":false},'
    '"last_message_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","version":1}}'
)


def sender_phone(key: int) -> str:
    # 500 customers: conversations are reused as in real traffic, without one hot document.
    return f"+48600{700000 + key % 500}"


def bench_payload(key: int, sent_at: float) -> tuple[str, str]:
    return sender_phone(key), bench_text(key, sent_at)


class WebhookSender:
    """Signed generic webhooks, spread round-robin over hub processes."""

    def __init__(
        self,
        ports: list[int],
        tenant: Tenant,
        tag: str,
        connections: int = 256,
        payload: Payload = bench_payload,
    ) -> None:
        self.pools = [HttpPool("127.0.0.1", port, limit=connections) for port in ports]
        self.tenant = tenant
        self.tag = tag
        self.payload = payload
        # Keys the hub answered as already stored, or as reaching no account: neither is pushed.
        self.not_created: list[int] = []

    async def __call__(self, key: int, sent_at: float) -> None:
        phone, text = self.payload(key, sent_at)
        body, headers = signed_webhook(
            WEBHOOK_SECRET,
            {"id": f"{self.tag}-{key}", "from": phone, "to": self.tenant.number, "text": text},
        )
        status, answer = await self.pools[key % len(self.pools)].request("POST", WEBHOOK_PATH, body, headers)
        # 202: in the accept log, routed behind the answer; 200: a repeat, or routed within the wait.
        if status not in (200, 202):
            raise HttpError(f"{status}: {answer[:200]!r}")
        if b'"created":true' not in answer or b'"matched":false' in answer:
            self.not_created.append(key)

    async def close(self) -> None:
        for pool in self.pools:
            await pool.close()


class BarePublisher:
    """Publishes a copy of the hub's event, its text replaced, through the bare server."""

    def __init__(self, ws: ClientConnection, template: str) -> None:
        self.ws = ws
        self.template = template

    @classmethod
    async def open(cls, port: int, hub_sample: str | None) -> BarePublisher:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/publish", open_timeout=10, ping_interval=None)
        return cls(ws, template_from(hub_sample))

    async def __call__(self, key: int, sent_at: float) -> None:
        await self.ws.send(self.template.replace(PLACEHOLDER, bench_text(key, sent_at)))

    async def close(self) -> None:
        await self.ws.close()


def template_from(sample: str | None) -> str:
    """The hub's own `message.created` frame with its bench text made a placeholder."""
    found = KEY.search(sample) if sample else None
    if sample is None or found is None:
        return _FALLBACK_EVENT
    return sample.replace(found[1], PLACEHOLDER)


@dataclass
class Sent:
    sent: int
    ok: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies: list[float] = field(default_factory=list)
    """Seconds from the scheduled send to the answer, answered requests only."""
    started_at: float = 0.0
    """Unix time of the first scheduled send."""
    seconds: float = 0.0
    """From the first scheduled send to the last answer."""

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:300]


async def open_loop(send: Send, rate: float, count: int, drain_s: float, first_key: int = 0) -> Sent:
    """Send `count` messages at `rate` per second on a fixed schedule, whatever the answers.

    Latency counts from the scheduled time, so a server that falls behind is charged for the
    requests waiting for a free connection too (no coordinated omission).
    """
    result = Sent(sent=count)
    start = time.perf_counter()
    result.started_at = time.time()
    last = start

    async def one(key: int, due: float, due_wall: float) -> None:
        nonlocal last
        try:
            await send(key, due_wall)
        except Exception as exc:
            result.failed(exc)
            return
        now = time.perf_counter()
        result.ok += 1
        result.latencies.append(now - due)
        last = max(last, now)

    tasks = []
    for key in range(count):
        due = key / rate
        delay = start + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(first_key + key, start + due, result.started_at + due)))
    await _finish(tasks, drain_s, result)
    result.seconds = last - start
    return result


async def closed_loop(send: Send, count: int, concurrency: int, wait_s: float, first_key: int = 0) -> Sent:
    """Send `count` messages as fast as `concurrency` senders can, each waiting for its answer."""
    result = Sent(sent=count)
    keys = iter(range(first_key, first_key + count))
    start = time.perf_counter()
    result.started_at = time.time()
    last = start

    async def worker() -> None:
        nonlocal last
        for key in keys:
            began = time.perf_counter()
            try:
                await send(key, time.time())
            except Exception as exc:
                result.failed(exc)
                continue
            now = time.perf_counter()
            result.ok += 1
            result.latencies.append(now - began)
            last = max(last, now)

    await _finish([asyncio.create_task(worker()) for _ in range(concurrency)], wait_s, result)
    result.seconds = last - start
    return result


async def _finish(tasks: list[asyncio.Task[None]], wait_s: float, result: Sent) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=wait_s)
    for task in pending:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    if pending:
        result.failed(TimeoutError(f"{len(pending)} sends unfinished after {wait_s:.0f} s"))
