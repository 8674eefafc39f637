"""`python -m bench --tiny` runs every benchmark end to end, so the benchmarks cannot rot.

Benchmarks are not tests: nothing here asserts a timing, only that each one ran and produced
numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = {"fanout", "ingest", "connections", "scaleout", "screen", "tvvote", "campaign", "search"}


@pytest.mark.timeout(420)
def test_every_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # The suite's asyncio debug mode would slow every benchmark process; a MONGODB_URI would
    # double the run. The benchmarks use the suite's Redis.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONASYNCIODEBUG", "MONGODB_URI"}}
    if "HUB_TEST_REDIS_URL" in os.environ:
        env["BENCH_REDIS_URL"] = os.environ["HUB_TEST_REDIS_URL"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["tiny"] is True
    assert report["runs"]
    for run in report["runs"]:
        assert set(run["benchmarks"]) == BENCHMARKS
        for name, bench in run["benchmarks"].items():
            assert "error" not in bench, bench.get("error")
            assert bench["rows"], f"{name} reported no figures"
            for row in bench["rows"]:
                value = row["hub"]
                assert isinstance(value, int | float) and math.isfinite(value), (name, row)
