"""The soak's processes: two `hub serve --no-worker` and one `hub worker` on the world's Redis and SecantusDB.

A fault restarts a hub on its own port, so the clients' and the gateway's address lists stay valid.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import httpx

from tests.reliability.harness import HubProcess
from tests.reliability.world import World

SERVE = ("serve", "--no-worker")
START_TIMEOUT_S = 180.0
"""A process restarted while the others carry the load (on a busy machine) may take a while to answer."""


@dataclass
class Stack:
    world: World
    hubs: list[HubProcess] = field(default_factory=list)
    worker: HubProcess | None = None
    died: list[str] = field(default_factory=list)
    """Processes found exited without a fault having killed them (each restarted)."""

    async def start(self) -> None:
        self.hubs = [self.world.hub(*SERVE), self.world.hub(*SERVE)]
        self.worker = self.world.hub("worker")
        await asyncio.gather(*(p.start(START_TIMEOUT_S) for p in [*self.hubs, self.worker]))

    @property
    def bases(self) -> list[str]:
        return [h.base for h in self.hubs]

    @property
    def sockets(self) -> list[str]:
        return [h.ws for h in self.hubs]

    def pids(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for i, h in enumerate(self.hubs):
            out[f"hub-{i + 1}"] = h.proc.pid if h.proc and h.proc.poll() is None else None
        w = self.worker
        out["worker"] = w.proc.pid if w and w.proc and w.proc.poll() is None else None
        out["secantusdb"] = self.world.mongo.pid
        return out

    async def restart_hub(self, i: int) -> None:
        old = self.hubs[i]
        old.kill()
        await asyncio.sleep(1)
        self.hubs[i] = self.world.hub(*SERVE, port=old.port)
        await self.hubs[i].start(START_TIMEOUT_S)

    async def restart_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        await asyncio.sleep(1)
        self.worker = self.world.hub("worker")
        await self.worker.start(START_TIMEOUT_S)

    async def revive(self) -> list[str]:
        """Restart any process that exited by itself; returns which (a finding, reported as such)."""
        found = []
        for i, h in enumerate(self.hubs):
            if h.proc is not None and h.proc.poll() is not None:
                found.append(f"hub-{i + 1} exited {h.proc.returncode}: {h.log_tail(400)!r}")
                self.hubs[i] = self.world.hub(*SERVE, port=h.port)
                await self.hubs[i].start(START_TIMEOUT_S)
        w = self.worker
        if w is not None and w.proc is not None and w.proc.poll() is not None:
            found.append(f"worker exited {w.proc.returncode}: {w.log_tail(400)!r}")
            self.worker = self.world.hub("worker")
            await self.worker.start(START_TIMEOUT_S)
        self.died += found
        return found

    async def wait_healthy(self, timeout: float = 120.0) -> float:
        """Until every hub answers /health with 200; returns seconds waited."""
        start = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as http:
            for base in self.bases:
                while time.monotonic() - start < timeout:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{base}/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.5)
        return time.monotonic() - start
