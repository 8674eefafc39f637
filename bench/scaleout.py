"""5. Scale-out: two hub processes sharing Redis and MongoDB, against one.

The load generator spreads webhooks round-robin over the processes (as a load balancer would),
and subscribers over both. Figures: the ingest throughput (as in benchmark 2: highest step with
p99 ≤ 200 ms), and fan-out deliveries per second of a burst to N subscribers (as in benchmark 1).
The baseline is one process taking all of it, in the same run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench import ingest
from bench.fanout import WEBHOOKS_IN_FLIGHT, burst
from bench.load import WebhookSender
from bench.report import Result, Row
from bench.sizes import Sizes, subscriber_processes
from bench.stack import HubProcess, Stack, Tenant
from bench.subscribers import SubscriberPool

NAME = "scaleout"


async def _ingest(
    stack: Stack, hubs: list[HubProcess], tenant: Tenant, sizes: Sizes, tag: str
) -> dict[str, Any]:
    pool = SubscriberPool(1)
    try:
        for hub in hubs:  # one socket on each process: each must see every message
            await pool.connect(hub.ws_url, tenant.ws_headers, 1, sizes.connect_timeout_s)
        found = await ingest.steps(stack, hubs, tenant, pool, sizes, sizes.ingest_rates, tag)
    finally:
        await pool.close()
    rate, best, within = ingest.sustained(found)
    return {"per_s": rate, "within_limit": within, "best": best, "steps": found}


async def _fanout(
    hubs: list[HubProcess], tenant: Tenant, sizes: Sizes, n: int, tag: str, first_key: int
) -> dict[str, Any]:
    pool = SubscriberPool(subscriber_processes(n))
    try:
        for i, hub in enumerate(hubs):
            share = n // len(hubs) + (1 if i < n % len(hubs) else 0)
            await pool.connect(hub.ws_url, tenant.ws_headers, share, sizes.connect_timeout_s)
        opened = (await pool.stats())["open"]
        sender = WebhookSender([h.port for h in hubs], tenant, tag)
        try:
            measured = await burst(
                pool,
                sender,
                sizes.burst(n),
                WEBHOOKS_IN_FLIGHT,
                sizes.message_timeout_s * 4,
                first_key,
                tuple(h.pid for h in hubs),
            )
        finally:
            await sender.close()
    finally:
        await pool.close()
    return {"subscribers": opened, **measured}


async def run(stack: Stack, sizes: Sizes) -> Result:
    if not stack.redis_url:
        raise RuntimeError("scale-out needs Redis (BENCH_REDIS_URL)")
    result = Result()
    database = stack.database(NAME)
    tenant = await stack.seed(database)
    prefix = stack.prefix(NAME)  # the same channels and job queue: one deployment
    one, two = await asyncio.gather(stack.start_hub(database, prefix), stack.start_hub(database, prefix))
    try:
        single = await _ingest(stack, [one], tenant, sizes, "so1")
        double = await _ingest(stack, [one, two], tenant, sizes, "so2")
        n = sizes.scaleout_subscribers
        fan_single = await _fanout([one], tenant, sizes, n, "sofan1", 0)
        fan_double = await _fanout([one, two], tenant, sizes, n, "sofan2", 0)
    finally:
        await asyncio.gather(stack.stop_hub(one), stack.stop_hub(two))
    result.details = {
        "ingest": {"one": single, "two": double},
        "fanout": {"one": fan_single, "two": fan_double},
    }
    result.add(
        Row(
            NAME,
            "ingest webhooks/s, 2 processes vs 1",
            double["per_s"],
            single["per_s"],
            "—",
            "" if double["within_limit"] and single["within_limit"] else "p99 > 200 ms at every step",
        ),
        Row(
            NAME,
            f"fan-out deliveries/s to {n:,}, 2 processes vs 1",
            fan_double["deliveries_per_s"],
            fan_single["deliveries_per_s"],
        ),
    )
    return result
