"""3. End-to-end latency: webhook sent → received by the last of 1,000 subscribers, at 200 msg/s.

Webhooks go out on a fixed schedule (open loop) for a window; every subscriber records how long
after its scheduled send each message arrived. The baseline is the bare `websockets` server
broadcasting the hub's event bytes on the same schedule to the same number of sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench import bare
from bench.children import Child
from bench.fanout import HUB_PING_INTERVAL_S
from bench.load import BarePublisher, Send, WebhookSender, open_loop
from bench.report import Result, Row
from bench.sizes import Sizes, subscriber_processes
from bench.stack import Stack
from bench.stats import summary_ms
from bench.subscribers import SubscriberPool

NAME = "e2e"
TARGET_P99_MS = 50.0


async def measure(pool: SubscriberPool, send: Send, sizes: Sizes, sockets: int) -> dict[str, Any]:
    await pool.reset()
    count = max(2, round(sizes.e2e_rate * sizes.e2e_window_s))
    sent = await open_loop(send, sizes.e2e_rate, count, drain_s=60)
    expected = sent.ok * sockets
    stats = await pool.wait_delivered(expected, wait_s=120, idle=5)
    short: list[int] = []
    late: list[int] = []
    if stats["delivered"] < expected:
        # Which messages did not reach every socket, and whether the hub said it stored them.
        short = await pool.short_keys(list(range(count)))
        await asyncio.sleep(10)
        late = await pool.short_keys(list(range(count)))
    return {
        "sent": count,
        "sent_ok": sent.ok,
        "send_errors": sent.errors,
        "first_error": sent.first_error,
        "delivered": stats["delivered"],
        "delivered_fraction": stats["delivered"] / expected if expected else 0.0,
        "closed": stats["closed"],
        **summary_ms(stats["latencies"]),
        "webhook_answer": summary_ms(sent.latencies),
        "sample": stats["sample"],
        "short_keys": short,
        "short_keys_10s_later": late,
        "not_created": getattr(send, "not_created", []),
    }


async def run(stack: Stack, sizes: Sizes) -> Result:
    result = Result()
    n = sizes.e2e_subscribers
    database = stack.database(NAME)
    tenant = await stack.seed(database)
    pool = SubscriberPool(subscriber_processes(n))
    try:
        hub = await stack.start_hub(database, stack.prefix(NAME))
        try:
            opened = await pool.connect(hub.ws_url, tenant.ws_headers, n, sizes.connect_timeout_s)
            sender = WebhookSender([hub.port], tenant, "e2e")
            try:
                hub_res = await measure(pool, sender, sizes, opened["open"])
            finally:
                await sender.close()
            await pool.close_sockets()
        finally:
            await stack.stop_hub(hub)
        server = Child(bare.main, HUB_PING_INTERVAL_S, name="bare-server")
        try:
            port = await server.call("port", 30)
            bare_opened = await pool.connect(f"ws://127.0.0.1:{port}/", {}, n, sizes.connect_timeout_s)
            publisher = await BarePublisher.open(port, hub_res.pop("sample"))
            try:
                bare_res = await measure(pool, publisher, sizes, bare_opened["open"])
                bare_res.pop("sample")
            finally:
                await publisher.close()
            await pool.close_sockets()
        finally:
            await server.close()
    finally:
        await pool.close()
    result.details = {
        "subscribers": {"hub": opened["open"], "bare": bare_opened["open"]},
        "rate_per_s": sizes.e2e_rate,
        "window_s": sizes.e2e_window_s,
        "hub": hub_res,
        "bare": bare_res,
    }
    label = f"{sizes.e2e_rate} msg/s to {opened['open']:,}"
    target = f"p99 ≤ {TARGET_P99_MS:.0f} ms"
    result.add(
        Row(NAME, f"p50 ms, {label}", hub_res["p50_ms"], bare_res["p50_ms"]),
        Row(NAME, f"p99 ms, {label}", hub_res["p99_ms"], bare_res["p99_ms"], target),
        Row(NAME, f"max ms, {label}", hub_res["max_ms"], bare_res["max_ms"]),
        Row(
            NAME,
            "delivered / expected",
            hub_res["delivered_fraction"],
            bare_res["delivered_fraction"],
            "1.00",
        ),
    )
    return result
