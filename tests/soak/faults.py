"""The faults a soak rotates through; each returns once the fault is over (the process is back)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tests.reliability.harness import WsClient
from tests.soak.stack import Stack


@dataclass
class Fault:
    name: str
    detail: str
    at_s: float
    """When it was injected, seconds since the soak started."""
    took_s: float
    """From injection until the process was back (Redis, SecantusDB, hub, worker) or the drop was done."""
    healthy_after_s: float
    """From the end of the fault until every hub answered /health with 200."""
    failed: str | None = None
    """Why the system did not come back (a process did not start again): a failed soak."""


class Rotation:
    """Every fault once per round, in an order the seeded RNG shuffles anew each round."""

    def __init__(self, names: Sequence[str], rng: random.Random) -> None:
        self.names = list(names)
        self.rng = rng
        self._round: list[str] = []

    def next(self) -> str:
        if not self._round:
            self._round = list(self.names)
            self.rng.shuffle(self._round)
        return self._round.pop(0)


async def inject(
    name: str, stack: Stack, clients: Sequence[WsClient], outage_s: float, rng: random.Random, started: float
) -> Fault:
    at = time.monotonic()
    try:
        return await _inject(name, stack, clients, outage_s, rng, started, at)
    except Exception as exc:  # reported and failed, but the soak goes on counting
        took = round(time.monotonic() - at, 1)
        return Fault(name, f"{name} fault", round(at - started, 1), took, -1.0, f"{exc!s:.500}")


async def _inject(
    name: str,
    stack: Stack,
    clients: Sequence[WsClient],
    outage_s: float,
    rng: random.Random,
    started: float,
    at: float,
) -> Fault:
    if name == "redis":
        redis = stack.world.redis
        assert redis is not None
        redis.kill()
        await asyncio.sleep(outage_s)
        redis.start()
        detail = f"Redis SIGKILLed, restarted empty after {outage_s:g} s"
    elif name == "mongo":
        await stack.world.mongo.stop()
        await asyncio.sleep(outage_s)
        await stack.world.mongo.start()
        detail = f"SecantusDB stopped, started again after {outage_s:g} s"
    elif name == "hub":
        i = rng.randrange(len(stack.hubs))
        await stack.restart_hub(i)
        detail = f"hub-{i + 1} SIGKILLed, restarted on its port"
    elif name == "worker":
        await stack.restart_worker()
        detail = "worker SIGKILLed, a new one started"
    elif name == "drop":
        for c in clients:
            c.drop()
        detail = f"{len(clients)} client connections aborted at once"
    else:
        raise ValueError(name)
    took = time.monotonic() - at
    healthy = await stack.wait_healthy()
    return Fault(name, detail, round(at - started, 1), round(took, 1), round(healthy, 1))
