"""Profile one hub process under one benchmark's load with py-spy, for before/after comparisons.

    python -m bench.profile fanout --subscribers 1000 --messages 60 [--no-compression]
    python -m bench.profile ingest --rate 30 --seconds 10
    python -m bench.profile idle --subscribers 5000 --seconds 15

Prints the hub's (and the embedded database's) CPU time per unit of work and the functions the
hub spends its samples in; writes speedscope files to --out. py-spy is not a dependency of the
project: `pip install py-spy` into the virtualenv first (it needs ptrace rights: root, or
kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.children import run_loop
from bench.fanout import WEBHOOKS_IN_FLIGHT, burst
from bench.load import WebhookSender, open_loop
from bench.procfs import cpu_seconds, raise_nofile
from bench.sizes import subscriber_processes
from bench.stack import Stack
from bench.stats import summary_ms
from bench.subscribers import SubscriberPool

REDIS = "redis://127.0.0.1:6379/0"


def spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "py-spy",
            "record",
            "-p",
            str(pid),
            "-o",
            str(out),
            "-f",
            "speedscope",
            "-r",
            "200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_functions(path: Path, limit: int) -> str:
    """The functions with the most samples, inclusive and self, from a speedscope file."""
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]

    def name(i: int) -> str:
        f = frames[i]
        where = f.get("file", "").split("site-packages/")[-1].split("/work/main/")[-1]
        return f"{f['name']} ({where}:{f.get('line', '')})"

    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            total += weight
            for key in {name(i) for i in stack}:
                inclusive[key] += weight
            own[name(stack[-1])] += weight
    lines = [f"{total:.1f} s of samples", "inclusive:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(limit)]
    lines += ["self:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in own.most_common(limit // 2)]
    return "\n".join(lines)


async def workload(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    database = stack.database("profile")
    tenant = await stack.seed(database)
    hub = await stack.start_hub(database, stack.prefix("profile"))
    n = args.subscribers if args.kind != "ingest" else 1
    pool = SubscriberPool(subscriber_processes(n))
    spies: list[subprocess.Popen[bytes]] = []
    try:
        opened = await pool.connect(
            hub.ws_url, tenant.ws_headers, n, 180, compression=not args.no_compression
        )
        sender = WebhookSender([hub.port], tenant, "profile")
        if args.kind == "ingest":  # warm up code paths and connections before sampling
            await open_loop(sender, 20, 40, 30, first_key=1_000_000)
        pids = {"hub": hub.pid, "database": stack.mongo_pid}
        for label, pid in pids.items():
            if pid is not None:
                spies.append(spy(pid, args.out / f"{args.kind}-{label}.speedscope.json"))
        await asyncio.sleep(1.0)  # py-spy attaches
        before = {k: cpu_seconds(p) for k, p in pids.items() if p is not None}
        result: dict[str, Any] = {"subscribers": opened["open"]}
        if args.kind == "fanout":
            measured = await burst(pool, sender, args.messages, WEBHOOKS_IN_FLIGHT, 300)
            result.update(
                deliveries=measured["delivered"],
                deliveries_per_s=measured["deliveries_per_s"],
                latency=measured["latency"],
            )
            units = measured["delivered"]
            unit = "delivery"
        elif args.kind == "ingest":
            sent = await open_loop(sender, args.rate, round(args.rate * args.seconds), 60)
            result.update(
                ok=sent.ok, errors=sent.errors, per_s=sent.per_second, answer=summary_ms(sent.latencies)
            )
            units, unit = sent.ok, "webhook"
        else:
            await asyncio.sleep(args.seconds)
            units, unit = opened["open"], "socket over the window"
        spent = {k: cpu_seconds(pids[k]) - v for k, v in before.items()}  # type: ignore[arg-type]
        result["cpu_ms_per_" + unit.split()[0]] = {k: 1000 * v / max(units, 1) for k, v in spent.items()}
        result["cpu_s"] = spent
        await sender.close()
    finally:
        for proc in spies:
            proc.send_signal(2)  # py-spy writes its file on SIGINT
        for proc in spies:
            await asyncio.to_thread(proc.wait, 60)
        await pool.close()
        await stack.stop_hub(hub)
    return result


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("kind", choices=["fanout", "ingest", "idle"])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=60, help="fanout: messages in the burst")
    parser.add_argument("--rate", type=float, default=30.0, help="ingest: webhooks per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="ingest and idle: window")
    parser.add_argument(
        "--no-compression", action="store_true", help="clients do not offer permessage-deflate"
    )
    parser.add_argument("--out", type=Path, default=Path("var/profiles"))
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hub-profile-") as tmp:
        async with Stack(tmp=Path(tmp), mongo_uri=None, redis_url=REDIS) as stack:
            result = await workload(args, stack)
    print(json.dumps(result, indent=2, default=str))
    hub_profile = args.out / f"{args.kind}-hub.speedscope.json"
    if hub_profile.exists():
        print(top_functions(hub_profile, args.top))
    return 0


def entry() -> None:
    raise_nofile()
    code = 0

    async def go() -> None:
        nonlocal code
        code = await main()

    run_loop(go)
    sys.exit(code)


if __name__ == "__main__":
    entry()
