"""Process facts from /proc (Linux): memory, CPU time, file-descriptor limits."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
TICK_S = 1 / _TICKS
"""The resolution of the CPU times the kernel reports."""


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard one; thousands of sockets need it. Returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of its live descendants (a server's helpers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry.name)] = int(raw[raw.rindex(")") + 2 :].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier += children
    total = 0.0
    for member in tree:
        with contextlib.suppress(OSError):
            total += cpu_seconds(member)
    return total


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
