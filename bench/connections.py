"""4. Idle connections: memory per WebSocket, and how many one process holds under 20% of a core.

Memory: the server's RSS (VmRSS) before and after opening N more idle sockets, per socket.
CPU: the server's user+system time over a window with N idle sockets, with the keepalive ping
(and, in the hub, the 30 s credential re-check) running `ping_speedup` times more often than in
production, scaled back. Minus the same window's CPU with only a few sockets (the process's
own background), divided by N: the cost of one idle socket at production intervals. The
capacity is 20% of a core divided by that. The baseline is a bare `websockets` server with
the same ping interval.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from bench import bare
from bench.children import Child
from bench.procfs import TICK_S, cpu_seconds, rss_kib
from bench.report import Result, Row
from bench.sizes import Sizes, subscriber_processes
from bench.stack import Stack
from bench.subscribers import SubscriberPool

NAME = "connections"
PING_S = 20.0
RECHECK_S = 30.0
CPU_BUDGET = 0.20
WARM_SOCKETS = 10


async def cpu_window(pid: int, seconds: float) -> float:
    """Fraction of one core the process used over `seconds`."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


async def measure(
    pool: SubscriberPool, pid: int, url: str, headers: dict[str, str], sizes: Sizes, alive: Callable[[], bool]
) -> dict[str, Any]:
    # A few sockets first, so what the first connection loads (code, caches) is not counted.
    warm = await pool.connect(url, headers, WARM_SOCKETS, sizes.connect_timeout_s)
    await asyncio.sleep(sizes.settle_s)
    background = await cpu_window(pid, sizes.idle_window_s)
    rss_before = rss_kib(pid)
    cpu_before_connect = cpu_seconds(pid)
    opened = await pool.connect(url, headers, sizes.idle_connections, sizes.connect_timeout_s)
    connect_cpu_s = cpu_seconds(pid) - cpu_before_connect
    n = opened["open"] - warm["open"]  # the pool counts every socket it holds
    await asyncio.sleep(sizes.settle_s)
    rss_after = rss_kib(pid)
    busy = await cpu_window(pid, sizes.idle_window_s)
    held = (await pool.stats())["open"] - warm["open"]
    if not alive():
        raise RuntimeError("the server died while holding idle sockets")
    # At a few dozen sockets the difference drowns in noise; then the whole window's CPU is
    # charged to the sockets, an upper bound.
    # Below one clock tick in the window nothing is measurable: one tick is charged instead.
    upper_bound = busy - background < TICK_S / sizes.idle_window_s
    spent = max(busy, TICK_S / sizes.idle_window_s) if upper_bound else busy - background
    per_socket = spent / sizes.ping_speedup / max(n, 1)
    return {
        "opened": n,
        "held_after_window": held,
        "connect": opened,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "kib_per_socket": (rss_after - rss_before) / n if n else 0.0,
        "connects_per_s": n / opened["seconds"] if opened["seconds"] > 0 else 0.0,
        # CPU moves less than the rate when other work shares the machine.
        "connect_cpu_ms_per_socket": 1000 * connect_cpu_s / n if n else 0.0,
        "cpu_background_fraction": background,
        "cpu_busy_fraction": busy,
        "cpu_per_socket_fraction": per_socket,
        "cpu_at_production_intervals": background / sizes.ping_speedup + per_socket * n,
        "cpu_upper_bound": upper_bound,
        "capacity_at_20pct": CPU_BUDGET / per_socket if per_socket > 0 else float("nan"),
    }


async def run(stack: Stack, sizes: Sizes) -> Result:
    result = Result()
    speedup = sizes.ping_speedup
    database = stack.database(NAME)
    tenant = await stack.seed(database)
    n = sizes.idle_connections
    pool = SubscriberPool(subscriber_processes(n))
    try:
        argv = [
            sys.executable,
            "-m",
            "bench.hub_runner",
            f"--ping-interval={PING_S / speedup}",
            f"--recheck={RECHECK_S / speedup}",
        ]
        hub = await stack.start_hub(database, stack.prefix(NAME), argv=argv)
        try:
            hub_res = await measure(
                pool, hub.pid, hub.ws_url, tenant.ws_headers, sizes, lambda: hub.proc.poll() is None
            )
            await pool.close_sockets()
        finally:
            await stack.stop_hub(hub)
        server = Child(bare.main, PING_S / speedup, name="bare-server")
        try:
            port = await server.call("port", 30)
            bare_res = await measure(
                pool, server.pid, f"ws://127.0.0.1:{port}/", {}, sizes, server.proc.is_alive
            )
            await pool.close_sockets()
        finally:
            await server.close()
    finally:
        await pool.close()
    result.details = {"ping_speedup": speedup, "hub": hub_res, "bare": bare_res}
    label = f"{hub_res['opened']:,} sockets"
    result.add(
        Row(
            NAME,
            f"KiB per idle socket, {label}",
            hub_res["kib_per_socket"],
            bare_res["kib_per_socket"],
            "≤ 2x",
        ),
        Row(
            NAME,
            "idle CPU per 1,000 sockets, % of a core",
            hub_res["cpu_per_socket_fraction"] * 1000 * 100,
            bare_res["cpu_per_socket_fraction"] * 1000 * 100,
        ),
        Row(
            NAME,
            "idle sockets under 20% of a core",
            hub_res["capacity_at_20pct"],
            bare_res["capacity_at_20pct"],
        ),
        Row(NAME, "idle sockets held", hub_res["held_after_window"], bare_res["held_after_window"]),
        Row(NAME, "sockets opened per second", hub_res["connects_per_s"], bare_res["connects_per_s"]),
        Row(
            NAME,
            "server CPU ms per socket opened",
            hub_res["connect_cpu_ms_per_socket"],
            bare_res["connect_cpu_ms_per_socket"],
        ),
    )
    return result
