"""The soak runner's command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

FAULTS = ("redis", "mongo", "hub", "worker", "drop")


@dataclass(frozen=True)
class SoakOptions:
    minutes: float
    rate: float
    reply_rate: float
    clients: int
    fault_every: float
    faults: tuple[str, ...]
    outage: float
    seed: int
    results: Path | None
    max_rss_growth_mib: float
    warmup: float
    drain_timeout: float
    workdir: Path | None


def _faults(raw: str) -> tuple[str, ...]:
    names = tuple(f.strip() for f in raw.split(",") if f.strip())
    unknown = [f for f in names if f not in FAULTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"faults are a subset of {','.join(FAULTS)}; got {raw!r}")
    return names


def parse(argv: list[str] | None = None) -> SoakOptions:
    p = argparse.ArgumentParser(
        prog="python -m tests.soak",
        description="Steady webhook and WebSocket load on two hubs and a worker, faults in rotation, "
        "lost/duplicated counted at every checkpoint. Exit 0 only if every checkpoint counts 0 and 0.",
    )
    p.add_argument("--minutes", type=float, default=60.0, help="how long the load runs (default 60)")
    p.add_argument("--rate", type=float, default=2.0, help="inbound webhooks per second (default 2)")
    p.add_argument(
        "--reply-rate", type=float, default=0.2, help="agent replies per second through the API (default 0.2)"
    )
    p.add_argument("--clients", type=int, default=20, help="WebSocket clients over both hubs (default 20)")
    p.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults (default 60)")
    p.add_argument(
        "--faults",
        type=_faults,
        default=FAULTS,
        help=f"which faults to rotate through (default {','.join(FAULTS)})",
    )
    p.add_argument("--outage", type=float, default=10.0, help="seconds Redis or SecantusDB stays down")
    p.add_argument("--seed", type=int, default=1, help="seed of the fault order (default 1)")
    p.add_argument("--results", type=Path, default=None, help="append faults, checkpoints, samples as JSONL")
    p.add_argument(
        "--max-rss-growth-mib",
        type=float,
        default=200.0,
        help="fail when a process's RSS grows more than this after warm-up (default 200)",
    )
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before the first RSS/fd baseline")
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=180.0,
        help="at a checkpoint, how long replies and forwards may take to be delivered (default 180)",
    )
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and data here (default: a temp dir)")
    a = p.parse_args(argv)
    return SoakOptions(
        minutes=a.minutes,
        rate=a.rate,
        reply_rate=a.reply_rate,
        clients=a.clients,
        fault_every=a.fault_every,
        faults=a.faults,
        outage=a.outage,
        seed=a.seed,
        results=a.results,
        max_rss_growth_mib=a.max_rss_growth_mib,
        warmup=a.warmup,
        drain_timeout=a.drain_timeout,
        workdir=a.workdir,
    )
