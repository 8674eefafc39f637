"""What a soak prints and writes: one line per fault and checkpoint, JSON lines, the final summary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.reliability.harness import Counts
from tests.soak.faults import Fault
from tests.soak.jobs import JobCounts
from tests.soak.procwatch import Growth, Sample


@dataclass
class Checkpoint:
    n: int
    after: str
    """The fault it follows, or "end"."""
    at_s: float
    counts: Counts
    jobs: JobCounts
    settle_s: float

    @property
    def scope(self) -> str:
        """Checkpoints during the run count what finished since the one before; the last counts all."""
        return "all" if self.after == "end" else "new"

    @property
    def lost(self) -> int:
        return self.counts.lost + self.jobs.lost

    @property
    def duplicated(self) -> int:
        return self.counts.duplicated + self.jobs.duplicated

    @property
    def failed(self) -> bool:
        """A webhook the hub never acknowledged within the gateway's retries fails it like a loss."""
        return bool(self.counts.refused or self.lost or self.duplicated)

    def line(self) -> str:
        c, j = self.counts, self.jobs
        return (
            f"[{self.at_s:7.1f}s] checkpoint {self.n} after {self.after}: {self.scope} webhooks {c.webhooks} "
            f"(acked {c.acked}, refused {c.refused}), replies {j.replies}, forwards {j.forwards}, "
            f"client gaps {c.client_gaps}, client dups {c.client_duplicates}, resets {c.resets}, "
            f"reconnects {c.reconnects}, settle {self.settle_s} s, drain {j.drain_s} s "
            f"-> LOST {self.lost} DUPLICATED {self.duplicated}"
            + (f" (still owed: {'; '.join(j.stuck)})" if self.lost else "")
        )

    def record(self) -> dict[str, Any]:
        counts = {**self.counts.__dict__, "lost": self.counts.lost, "duplicated": self.counts.duplicated}
        jobs = {**asdict(self.jobs), "lost": self.jobs.lost, "duplicated": self.jobs.duplicated}
        return {
            "kind": "checkpoint",
            "n": self.n,
            "after": self.after,
            "scope": self.scope,
            "at_s": self.at_s,
            "settle_s": self.settle_s,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "counts": counts,
            "jobs": jobs,
        }


class Results:
    """Appends JSON lines to --results (if given)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a") as out:
            out.write(json.dumps(record, default=str) + "\n")

    def fault(self, f: Fault) -> None:
        self.write({"kind": "fault", **asdict(f)})

    def samples(self, rows: list[Sample]) -> None:
        for s in rows:
            self.write({"kind": "sample", **asdict(s)})


def table(headers: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), *(fmt.format(*map(str, r)) for r in rows)])


def summary(
    checkpoints: list[Checkpoint], faults: list[Fault], growth: list[Growth], died: list[str], seconds: float
) -> str:
    last = checkpoints[-1] if checkpoints else None
    parts = [
        "",
        f"== soak summary: {seconds / 60:.1f} min, {len(faults)} faults, {len(checkpoints)} checkpoints ==",
    ]
    if last is not None:
        c, j = last.counts, last.jobs
        parts.append(
            f"webhooks {c.webhooks} (acked {c.acked}, refused {c.refused}, stored {c.stored}); "
            f"replies {j.replies} (refused {j.replies_refused}); forward deliveries {j.forwards}; "
            f"clients {c.clients} (reconnects {c.reconnects}, hole resumes {c.hole_resumes})"
        )
    parts += ["", "faults:"]
    parts += [
        f"  {f.at_s:7.1f}s  {f.name:6}  {f.detail} (took {f.took_s} s)"
        + (f" DID NOT RECOVER: {f.failed}" if f.failed else "")
        for f in faults
    ] or ["  none"]
    parts += ["", "checkpoints (during the run: what finished since the one before; end: everything):"]
    parts.append(
        table(
            ["#", "after", "at s", "webhooks", "replies", "forwards", "gaps", "cl.dups", "LOST", "DUP"],
            [
                [
                    cp.n,
                    cp.after,
                    cp.at_s,
                    cp.counts.webhooks,
                    cp.jobs.replies,
                    cp.jobs.forwards,
                    cp.counts.client_gaps,
                    cp.counts.client_duplicates,
                    cp.lost,
                    cp.duplicated,
                ]
                for cp in checkpoints
            ],
        )
    )
    parts += ["", "RSS / open fds per process, first sample after warm-up to last:"]
    if growth:
        parts.append(
            table(
                ["process", "pid", "over s", "RSS MiB from", "to", "growth", "fds from", "to", "growth"],
                [
                    [
                        g.role,
                        g.pid,
                        g.seconds,
                        g.rss_from_mib,
                        g.rss_to_mib,
                        g.rss_mib,
                        g.fds_from,
                        g.fds_to,
                        g.fds,
                    ]
                    for g in growth
                ],
            )
        )
    else:
        parts.append("  no process lived past the warm-up")
    if died:
        parts += ["", "processes that exited by themselves (restarted):", *(f"  {d}" for d in died)]
    return "\n".join(parts)
