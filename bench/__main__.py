"""`python -m bench [--tiny] [--only fanout,ingest,...] [--json out.json]`.

Starts what it needs (an embedded SecantusDB unless MONGODB_URI is set, `hub serve` processes,
load generators in child processes), runs each benchmark, prints one table per database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import campaign, connections, fanout, ingest, scaleout, screen, search, tvvote
from bench.children import run_loop
from bench.machine import machine_info
from bench.procfs import loadavg, raise_nofile
from bench.report import Result, Row, table
from bench.sizes import FULL, TINY, Sizes
from bench.stack import Stack

Bench = Callable[[Stack, Sizes], Awaitable[Result]]
BENCHMARKS: dict[str, Bench] = {
    "fanout": fanout.run,
    "ingest": ingest.run,
    "connections": connections.run,
    "scaleout": scaleout.run,
    "screen": screen.run,
    "tvvote": tvvote.run,
    "campaign": campaign.run,
    "search": search.run,
}
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and 1 s windows (CI smoke run)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    args.names = names
    return args


async def run_database(
    label: str, uri: str | None, names: list[str], sizes: Sizes, tmp: Path
) -> tuple[dict[str, Any], bool]:
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    report: dict[str, Any] = {"database": label, "benchmarks": {}}
    failed = False
    async with Stack(tmp=tmp, mongo_uri=uri, redis_url=redis_url, label=label) as stack:
        for name in names:
            started = time.monotonic()
            print(f"-- {name} against {label} …", file=sys.stderr, flush=True)
            try:
                async with asyncio.timeout(sizes.timeout_s(name)):
                    result = await BENCHMARKS[name](stack, sizes)
            except Exception:
                failed = True
                traceback.print_exc()
                report["benchmarks"][name] = {"error": traceback.format_exc(limit=3)}
                continue
            seconds = time.monotonic() - started
            report["benchmarks"][name] = {
                "rows": [r.as_dict() for r in result.rows],
                "details": result.details,
                "seconds": seconds,
            }
            print(table(result.rows), file=sys.stderr, flush=True)
            print(f"   ({seconds:.0f} s)", file=sys.stderr, flush=True)
    report["rows"] = [row for b in report["benchmarks"].values() for row in b.get("rows", [])]
    return report, failed


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = TINY if args.tiny else FULL
    started = time.monotonic()
    machine = machine_info()
    databases: list[tuple[str, str | None]] = [(f"SecantusDB {machine['secantusdb']} (embedded)", None)]
    if os.environ.get("MONGODB_URI", "").strip():
        # Labelled by the variable's name: the URI may hold a password.
        databases.append(("MONGODB_URI", os.environ["MONGODB_URI"].strip()))
    reports = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        for i, (label, uri) in enumerate(databases):
            folder = Path(tmp) / f"db{i}"
            folder.mkdir()
            report, bad = await run_database(label, uri, args.names, sizes, folder)
            reports.append(report)
            failed = failed or bad
    machine["loadavg_at_end"] = loadavg()
    total = time.monotonic() - started
    print(
        f"\n{machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, "
        f"load average {machine['loadavg_at_start']} -> {machine['loadavg_at_end']}, "
        f"commit {machine['commit']}, {'tiny' if sizes.tiny else 'full'} run in {total:.0f} s"
    )
    for report in reports:
        print(f"\n### {report['database']}\n")
        print(table([_row(r) for r in report["rows"]]))
    if args.json:
        document = {"machine": machine, "tiny": sizes.tiny, "seconds": total, "runs": reports}
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return 1 if failed else 0


def _row(data: dict[str, Any]) -> Row:
    return Row(data["bench"], data["figure"], data["hub"], data["baseline"], data["target"], data["note"])


def entry() -> None:
    logging.basicConfig(level=logging.WARNING)
    raise_nofile()
    code = 0

    async def go() -> None:
        nonlocal code
        code = await main()

    run_loop(go)
    sys.exit(code)


if __name__ == "__main__":
    entry()
