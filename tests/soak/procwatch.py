"""RSS and open file descriptors of the hub's processes, sampled from /proc: a leak detector for long runs.

A process restarted by a fault is a new incarnation with a new pid; growth is measured per incarnation,
from its first sample after the warm-up to its last sample.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.procfs import rss_kib


@dataclass
class Sample:
    at: float
    """Seconds since the soak started."""
    role: str
    pid: int
    rss_kib: int
    fds: int


@dataclass
class Growth:
    role: str
    pid: int
    seconds: float
    """Time between the two samples compared."""
    rss_from_mib: float
    rss_to_mib: float
    fds_from: int
    fds_to: int

    @property
    def rss_mib(self) -> float:
        return round(self.rss_to_mib - self.rss_from_mib, 1)

    @property
    def fds(self) -> int:
        return self.fds_to - self.fds_from


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class ProcWatch:
    """Every `every_s`, one sample per live process that `pids()` names (role -> pid)."""

    pids: Callable[[], dict[str, int | None]]
    started: float
    warmup_s: float
    every_s: float = 10.0
    samples: list[Sample] = field(default_factory=list)
    first_seen: dict[int, float] = field(default_factory=dict)
    """pid -> when it was first sampled: a restarted process warms up again."""

    def sample(self) -> list[Sample]:
        now = time.monotonic() - self.started
        taken = []
        for role, pid in self.pids().items():
            if pid is None:
                continue
            try:
                s = Sample(round(now, 1), role, pid, rss_kib(pid), open_fds(pid))
            except (OSError, RuntimeError):  # exited between the listing and the read
                continue
            self.first_seen.setdefault(pid, now)
            taken.append(s)
        self.samples += taken
        return taken

    async def run(self, on_sample: Callable[[list[Sample]], None]) -> None:
        while True:
            on_sample(self.sample())
            await asyncio.sleep(self.every_s)

    def growth(self) -> list[Growth]:
        """Per incarnation: first sample at least `warmup_s` after it was first seen, to its last sample."""
        out = []
        by_pid: dict[int, list[Sample]] = {}
        for s in self.samples:
            by_pid.setdefault(s.pid, []).append(s)
        for pid, rows in by_pid.items():
            warm = [s for s in rows if s.at - self.first_seen[pid] >= self.warmup_s]
            if len(warm) < 2:
                continue
            a, b = warm[0], warm[-1]
            out.append(
                Growth(
                    a.role,
                    pid,
                    round(b.at - a.at, 1),
                    round(a.rss_kib / 1024, 1),
                    round(b.rss_kib / 1024, 1),
                    a.fds,
                    b.fds,
                )
            )
        return sorted(out, key=lambda g: (g.role, -g.seconds))
