"""`hub worker`'s own metrics port (HUB_WORKER_METRICS_PORT), scraped from a real worker process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub.settings import Settings
from tests.conftest import free_port

TOKEN = "skrobak-zolw-42"


async def scrape_when_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    """The first answer of the worker's port, once it listens (the process must stay up meanwhile)."""
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError(f"hub worker exited: {log.read_text()[-2000:]}")
            try:
                return await client.get(url, timeout=5)
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"hub worker's metrics port never answered: {log.read_text()[-2000:]}")


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_worker_serves_its_metrics_on_its_own_port(
    hub: object, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongo.uri,
        "MONGODB_DATABASE": settings.mongo.database,
        "REDIS_URL": settings.redis.url,
        "HUB_CHANNEL_PREFIX": settings.redis.channel_prefix,
        "HUB_DATA_DIR": str(tmp_path / "var"),
        "HUB_WORKER_METRICS_PORT": str(port),
        "HUB_METRICS_TOKEN": TOKEN,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        # The same token rule as `hub serve`'s /metrics.
        assert (await scrape_when_up(url, proc, log)).status_code == 401
        async with httpx.AsyncClient() as client:
            bad = await client.get(url, headers={"Authorization": "Bearer nie-ten"})
            assert bad.status_code == 401
            got = await client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
            assert got.status_code == 200 and got.headers["content-type"].startswith("text/plain")
            assert "\nhub_job_queue_depth{" in got.text and "process_cpu_seconds_total" in got.text
            assert "# TYPE hub_outbound_sends_total counter" in got.text
            assert "# TYPE hub_forward_deliveries_total counter" in got.text
            assert (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 404
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, -15), log.read_text()[-2000:]
