"""1. Fan-out: one inbound message to N WebSocket subscribers.

Two ways of sending, each measured at the subscribers:
- one at a time: send a message, wait until every subscriber has it, send the next. The
  latency (sent → received, per subscriber) is the fan-out of one message, with no queue of
  earlier messages in front of it.
- burst: messages back to back (the hub: 8 webhooks in flight); deliveries per second =
  deliveries / (last receipt - first send).
The baseline is a bare `websockets` server calling `broadcast()` with the hub's own event bytes.
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench import bare
from bench.children import Child
from bench.load import BarePublisher, Send, WebhookSender, closed_loop
from bench.procfs import cpu_seconds
from bench.report import Result, Row
from bench.sizes import Sizes, subscriber_processes
from bench.stack import HubProcess, Stack, Tenant
from bench.stats import summary_ms
from bench.subscribers import SubscriberPool

NAME = "fanout"
HUB_PING_INTERVAL_S = 20.0
"""`hub serve` pings every 20 s; the bare server is given the same."""
WEBHOOKS_IN_FLIGHT = 8


async def one_at_a_time(pool: SubscriberPool, send: Send, count: int, wait_s: float) -> dict[str, Any]:
    await pool.reset(notify=True)
    complete = 0
    answers = []  # the hub answers a webhook once it is stored and published
    for key in range(count):
        began = time.perf_counter()
        await send(key, time.time())
        answers.append(time.perf_counter() - began)
        complete += await pool.wait_done({key}, wait_s)
    stats = await pool.stats()
    return {
        **summary_ms(stats["latencies"]),
        "messages_complete": complete,
        "messages": count,
        "send_answer": summary_ms(answers),
    }


async def burst(
    pool: SubscriberPool,
    send: Send,
    count: int,
    in_flight: int,
    wait_s: float,
    first_key: int = 0,
    server_pids: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Deliveries per second of `count` messages sent back to back, and the servers' CPU per
    delivery (a machine shared with other work changes the first more than the second)."""
    await pool.reset(notify=True)
    cpu_before = sum(cpu_seconds(pid) for pid in server_pids)
    sent = await closed_loop(send, count, in_flight, wait_s, first_key)
    complete = await pool.wait_done(set(range(first_key, first_key + count)), wait_s)
    cpu = sum(cpu_seconds(pid) for pid in server_pids) - cpu_before
    stats = await pool.stats()
    span = stats["last_recv"] - sent.started_at
    return {
        "server_cpu_s": cpu,
        "server_cpu_us_per_delivery": cpu / stats["delivered"] * 1e6 if stats["delivered"] else math.nan,
        "messages": count,
        "sent_ok": sent.ok,
        "send_errors": sent.errors,
        "first_error": sent.first_error,
        "complete": complete,
        "delivered": stats["delivered"],
        "seconds": span,
        "deliveries_per_s": stats["delivered"] / span if span > 0 else 0.0,
        "latency": summary_ms(stats["latencies"]),
        "closed": stats["closed"],
    }


async def measure(
    pool: SubscriberPool, send: Send, sizes: Sizes, subscribers: int, server_pid: int
) -> dict[str, Any]:
    wait_s = sizes.message_timeout_s
    count = sizes.fanout_sequential
    seq = await one_at_a_time(pool, send, count, wait_s)
    # Keys after the one-at-a-time ones: a webhook id must not repeat within a database.
    fast = await burst(
        pool, send, sizes.burst(subscribers), WEBHOOKS_IN_FLIGHT, wait_s * 4, count, (server_pid,)
    )
    return {"one_at_a_time": seq, "burst": fast}


async def run(stack: Stack, sizes: Sizes) -> Result:
    result = Result()
    database = stack.database(NAME)
    tenant = await stack.seed(database)
    hub = await stack.start_hub(database, stack.prefix(NAME))
    try:
        for n in sizes.fanout_subscribers:
            details = await _one_size(hub, tenant, sizes, n)
            result.details[f"N={n}"] = details
            reached = details["hub_subscribers"]
            label = f"N={n:,}" if reached == n else f"N={reached:,} of {n:,}"
            h, b = details["hub"], details["bare"]
            result.add(
                Row(
                    NAME,
                    f"deliveries/s, {label}",
                    h["burst"]["deliveries_per_s"],
                    b["burst"]["deliveries_per_s"],
                    "≥ 0.7x",
                ),
                Row(
                    NAME,
                    f"server CPU µs per delivery, {label}",
                    h["burst"]["server_cpu_us_per_delivery"],
                    b["burst"]["server_cpu_us_per_delivery"],
                ),
                Row(NAME, f"p50 ms, {label}", h["one_at_a_time"]["p50_ms"], b["one_at_a_time"]["p50_ms"]),
                Row(NAME, f"p99 ms, {label}", h["one_at_a_time"]["p99_ms"], b["one_at_a_time"]["p99_ms"]),
            )
    finally:
        await stack.stop_hub(hub)
    return result


async def _one_size(hub: HubProcess, tenant: Tenant, sizes: Sizes, n: int) -> dict[str, Any]:
    hub_url, hub_port, hub_pid = hub.ws_url, hub.port, hub.pid
    pool = SubscriberPool(subscriber_processes(n))
    details: dict[str, Any] = {}
    try:
        opened = await pool.connect(hub_url, tenant.ws_headers, n, sizes.connect_timeout_s)
        details["hub_subscribers"] = opened["open"]
        details["hub_connect"] = opened
        sender = WebhookSender([hub_port], tenant, f"fan{n}")
        try:
            details["hub"] = await measure(pool, sender, sizes, opened["open"], hub_pid)
        finally:
            await sender.close()
        sample = (await pool.stats())["sample"]
        await pool.close_sockets()

        server = Child(bare.main, HUB_PING_INTERVAL_S, name="bare-server")
        try:
            port = await server.call("port", 30)
            opened = await pool.connect(f"ws://127.0.0.1:{port}/", {}, n, sizes.connect_timeout_s)
            details["bare_subscribers"] = opened["open"]
            publisher = await BarePublisher.open(port, sample)
            try:
                details["bare"] = await measure(pool, publisher, sizes, opened["open"], server.pid)
            finally:
                await publisher.close()
            await pool.close_sockets()
        finally:
            await server.close()
    finally:
        await pool.close()
    return details
