"""Result rows and the table: benchmark | figure | hub | baseline | ratio | target."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.stats import ratio


@dataclass
class Row:
    bench: str
    figure: str
    hub: float
    baseline: float | None = None
    target: str = "—"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.hub, self.baseline)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "figure": self.figure,
            "hub": _json_number(self.hub),
            "baseline": _json_number(self.baseline),
            "ratio": _json_number(self.ratio),
            "target": self.target,
            "note": self.note,
        }


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """A Markdown table, readable as plain text too."""
    header = ["benchmark", "figure", "hub", "baseline", "ratio", "target"]
    body = [
        [
            r.bench,
            r.figure + (f" ({r.note})" if r.note else ""),
            fmt(r.hub),
            fmt(r.baseline),
            f"{fmt(r.ratio)}x" if r.ratio is not None else "—",
            r.target,
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    right = {2, 3, 4}

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), rule, *(line(b) for b in body)])
