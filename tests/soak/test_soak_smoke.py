"""A one-minute soak as a subprocess: it must inject faults, count at every checkpoint, and pass.

The soak runner is a command (`python -m tests.soak`); this runs it small so that CI notices when it breaks
or when the hub starts losing or doubling anything under its faults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.harness import ROOT


@pytest.mark.timeout(330)
def test_a_short_soak_injects_faults_and_counts_nothing_lost_or_doubled(tmp_path: Path) -> None:
    results = tmp_path / "soak.jsonl"
    argv = [sys.executable, "-m", "tests.soak", "--minutes", "1", "--fault-every", "20", "--seed", "7"]
    argv += ["--rate", "3", "--reply-rate", "0.3", "--clients", "6", "--outage", "3", "--warmup", "10"]
    argv += ["--faults", "hub,drop,redis", "--drain-timeout", "90"]
    argv += ["--results", str(results), "--workdir", str(tmp_path / "run")]
    # The suite's conftest turns asyncio debug mode on; the runner's own loop would crawl with it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = run.stdout[-6000:] + run.stderr[-3000:]
    assert results.exists(), output
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    faults = [r for r in rows if r["kind"] == "fault"]
    checkpoints = [r for r in rows if r["kind"] == "checkpoint"]
    assert faults, output
    assert len(checkpoints) == len(faults) + 1 and checkpoints[-1]["after"] == "end", output
    for cp in checkpoints:
        assert cp["lost"] == 0 and cp["duplicated"] == 0, json.dumps(cp, indent=1)
        assert cp["counts"]["refused"] == 0, json.dumps(cp, indent=1)
    end = checkpoints[-1]
    assert end["counts"]["acked"] == end["counts"]["webhooks"] >= 100, output
    assert end["jobs"]["replies"] > 0 and end["jobs"]["forwards"] > end["counts"]["webhooks"], output
    assert any(r["kind"] == "sample" and r["role"] == "worker" for r in rows), output
    assert run.returncode == 0, output
    assert "RESULT: PASS" in run.stdout, output
