"""6. Screen: what a billboard costs per text as it fills.

One post-moderated billboard (every text shows at once) on the tenant's number, one screen socket
open on it, and the moderators' panel open on it as the Displays page has it: its socket, and on
every notice a reload of the queue and of what the screen shows (`GET …/items?status=pending`,
`…?status=shown&limit=30`). Texts are sent at a steady rate (open loop) for a window, twice, on
fresh databases: on a screen that shows nothing yet, and on one that already holds `screen_items` shown items
(with their `display.message` events in the screen's log), as a screen holds after a long vote.
The figures are the embedded database's and the hub's CPU time per text on the full screen
against the empty one: a query on the screen path that reads or sorts all the screen's items
costs nothing on the first and grows with the second.

Then screens open on it one after another (`screen_opens` of them, each waiting for its
snapshot and `ready`): the database's CPU per screen opened, full against empty.

The items are written before the hub starts, with `insert_many` of the store's documents
(`DisplayItem`, `DisplayEventRecord`): set-up, not the measured path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets

from bench.http import HttpPool
from bench.load import WebhookSender, open_loop
from bench.procfs import tree_cpu_seconds
from bench.report import Result, Row
from bench.sizes import Sizes
from bench.stack import Stack, Tenant
from bench.stats import summary_ms

NAME = "screen"
PREFILL_CHUNK = 1000
TARGET = "≤ 1.2x"


class Screen:
    """The billboard's link token and id, and the bench texts its socket received."""

    def __init__(self, display_id: str, token: str) -> None:
        self.display_id = display_id
        self.token = token
        self.shown: set[str] = set()
        self._changed = asyncio.Event()

    def saw(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "display.message":
            text = str(frame.get("data", {}).get("text", ""))
            if text.startswith("bench "):
                self.shown.add(text)
                self._changed.set()

    async def wait_shown(self, count: int, wait_s: float) -> int:
        """Wait until the socket received `count` bench texts (or `wait_s` passed); how many it did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while len(self.shown) < count and loop.time() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - loop.time()))
        return len(self.shown)


async def make_screen(stack: Stack, database: str, tenant: Tenant, items: int) -> Screen:
    """A post-moderated billboard on the tenant's number, holding `items` shown items."""
    from beanie import PydanticObjectId

    from hub.domain import display_events as dev
    from hub.services import displays as svc
    from hub.settings import MongoSettings, ServerSettings, Settings
    from hub.store.displays import DisplayDoc, DisplayEventRecord, DisplayItem
    from hub.store.numbers import Number
    from workers.run import open_hub

    settings = Settings(
        server=ServerSettings(data_dir=stack.tmp / "seed"),
        mongo=MongoSettings(uri=stack.uri, database=database),
    )
    token, token_hash = svc.new_token()
    async with open_hub(settings, start_local_worker=False):
        account = PydanticObjectId(tenant.account_id)
        number = await Number.find_one({"e164": tenant.number})
        assert number is not None and number.id is not None
        display = DisplayDoc(
            account_id=account,
            title="Bench billboard",
            number_id=number.id,
            number=tenant.number,
            moderation="post",
            token_hash=token_hash,
            seq=items,
        )
        await display.insert()
        assert display.id is not None
        start = datetime.now(UTC) - timedelta(hours=1)
        for first in range(0, items, PREFILL_CHUNK):
            rows, events = [], []
            for i in range(first, min(items, first + PREFILL_CHUNK)):
                at = start + timedelta(milliseconds=i)
                item = DisplayItem(
                    id=PydanticObjectId(),
                    display_id=display.id,
                    account_id=account,
                    message_id=PydanticObjectId(),
                    conversation_id=PydanticObjectId(),
                    sender=f"+4869{i:07d}",
                    text=f"stored {i}",
                    status=svc.SHOWN,
                    shown_seq=i + 1,
                    created_at=at,
                )
                rows.append(item)
                event = dev.DisplayMessage(
                    seq=i + 1,
                    display_id=str(display.id),
                    at=at.isoformat(),
                    data=svc.message_payload(display, item, None),
                )
                events.append(
                    DisplayEventRecord(
                        display_id=display.id,
                        seq=i + 1,
                        type="display.message",
                        payload=dev.encode_display_event(event),
                        at=at,
                    )
                )
            await DisplayItem.insert_many(rows)
            await DisplayEventRecord.insert_many(events)
    return Screen(str(display.id), token)


async def watch(url: str, screen: Screen, ready: asyncio.Event) -> None:
    async with websockets.connect(url, open_timeout=30, max_size=64 * 1024 * 1024) as ws:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "ready":
                ready.set()
            screen.saw(frame)


class Panel:
    """The Displays page's moderation panel: it reloads both lists on every queue notice."""

    def __init__(self, port: int, tenant: Tenant, display_id: str) -> None:
        self.http = HttpPool("127.0.0.1", port, limit=8)
        self.headers = tenant.ws_headers
        self.url = f"ws://127.0.0.1:{port}/ws/display/moderate?display_id={display_id}"
        self.paths = [
            f"/api/displays/{display_id}/items?status=pending",
            f"/api/displays/{display_id}/items?status=shown&limit=30",
        ]
        self.reloads: set[asyncio.Task[None]] = set()
        self.loaded = 0
        self.failed = 0

    async def reload(self) -> None:
        requests = (self.http.request("GET", path, b"", self.headers) for path in self.paths)
        for answer in await asyncio.gather(*requests, return_exceptions=True):
            # A reload still waiting when the hub stops fails: counted, as a page would show it.
            if isinstance(answer, tuple) and answer[0] == 200:
                self.loaded += 1
            else:
                self.failed += 1

    async def run(self, ready: asyncio.Event) -> None:
        async with websockets.connect(self.url, additional_headers=self.headers, open_timeout=30) as ws:
            async for raw in ws:
                kind = json.loads(raw).get("type")
                if kind == "ready":
                    ready.set()
                elif kind == "display.queue":
                    task = asyncio.create_task(self.reload())
                    self.reloads.add(task)
                    task.add_done_callback(self.reloads.discard)

    async def close(self) -> None:
        if self.reloads:
            await asyncio.wait(self.reloads, timeout=30)
        await self.http.close()


async def open_screens(port: int, screen: Screen, count: int) -> None:
    """Open the screen `count` times, one after another, each until its snapshot and `ready`."""
    for _ in range(count):
        ready = asyncio.Event()
        task = asyncio.create_task(
            watch(f"ws://127.0.0.1:{port}/ws/display?token={screen.token}", screen, ready)
        )
        try:
            await asyncio.wait_for(ready.wait(), 60)
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def window(stack: Stack, sizes: Sizes, name: str, items: int) -> dict[str, Any]:
    """Texts at `screen_rate` for `screen_window_s` to a billboard holding `items` items."""
    database = stack.database(name)
    tenant = await stack.seed(database)
    screen = await make_screen(stack, database, tenant, items)
    hub = await stack.start_hub(database, stack.prefix(name))
    ready = asyncio.Event()
    url = f"ws://127.0.0.1:{hub.port}/ws/display?token={screen.token}"
    reader = asyncio.create_task(watch(url, screen, ready), name="bench-screen")
    panel = Panel(hub.port, tenant, screen.display_id)
    panel_ready = asyncio.Event()
    moderating = asyncio.create_task(panel.run(panel_ready), name="bench-panel")
    sender = WebhookSender([hub.port], tenant, name)
    try:
        await asyncio.wait_for(ready.wait(), sizes.connect_timeout_s)
        await asyncio.wait_for(panel_ready.wait(), sizes.connect_timeout_s)
        count = max(2, round(sizes.screen_rate * sizes.screen_window_s))
        mongo = stack.mongo_pid
        hub_cpu = tree_cpu_seconds(hub.pid)
        mongo_cpu = tree_cpu_seconds(mongo) if mongo else math.nan
        sent = await open_loop(sender, sizes.screen_rate, count, drain_s=30)
        hub_cpu = tree_cpu_seconds(hub.pid) - hub_cpu
        mongo_cpu = tree_cpu_seconds(mongo) - mongo_cpu if mongo else math.nan
        shown = await screen.wait_shown(sent.ok, wait_s=15)
        await panel.close()
        opened = tree_cpu_seconds(mongo) if mongo else math.nan
        await open_screens(hub.port, screen, sizes.screen_opens)
        opened = tree_cpu_seconds(mongo) - opened if mongo else math.nan
    finally:
        for task in (reader, moderating):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await panel.close()
        await sender.close()
        await stack.stop_hub(hub)
    return {
        "items": items,
        "sent": count,
        "ok": sent.ok,
        "errors": sent.errors,
        "first_error": sent.first_error,
        "per_s": sent.per_second,
        **summary_ms(sent.latencies),
        "shown_fraction": shown / sent.ok if sent.ok else 0.0,
        "hub_cpu_ms_per_text": hub_cpu / sent.ok * 1000 if sent.ok else math.nan,
        "mongo_cpu_ms_per_text": mongo_cpu / sent.ok * 1000 if sent.ok else math.nan,
        "panel_reloads": panel.loaded,
        "panel_failures": panel.failed,
        "mongo_cpu_ms_per_screen_opened": opened / sizes.screen_opens * 1000,
    }


async def run(stack: Stack, sizes: Sizes) -> Result:
    empty = await window(stack, sizes, NAME, 0)
    full = await window(stack, sizes, f"{NAME}-full", sizes.screen_items)
    held = f"{sizes.screen_items:,} items on the screen vs none"
    rate = f"{sizes.screen_rate:g} texts/s"
    result = Result(details={"empty": empty, "full": full})
    if stack.mongo_pid is not None:
        result.add(
            Row(
                NAME,
                f"embedded database CPU ms per text, {held}",
                full["mongo_cpu_ms_per_text"],
                empty["mongo_cpu_ms_per_text"],
                TARGET,
            )
        )
    result.add(
        Row(
            NAME,
            f"hub CPU ms per text, {held}",
            full["hub_cpu_ms_per_text"],
            empty["hub_cpu_ms_per_text"],
            TARGET,
        ),
        Row(
            NAME, f"p99 ms at {rate}, {held}", full["p99_ms"], empty["p99_ms"], "—", _unanswered(full, empty)
        ),
        Row(NAME, f"shown / sent, {held}", full["shown_fraction"], empty["shown_fraction"], "1.00"),
    )
    if stack.mongo_pid is not None:
        opened = f"embedded database CPU ms per screen opened, {held}"
        result.add(
            Row(NAME, opened, full["mongo_cpu_ms_per_screen_opened"], empty["mongo_cpu_ms_per_screen_opened"])
        )
    return result


def _unanswered(full: dict[str, Any], empty: dict[str, Any]) -> str:
    """Says so when a window's texts were not all answered (the figures cover the answered ones)."""
    parts = [f"{w['ok']} of {w['sent']} answered {label}" for label, w in (("full", full), ("empty", empty))]
    return "; ".join(p for p, w in zip(parts, (full, empty), strict=True) if w["ok"] < w["sent"])
