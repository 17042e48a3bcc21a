"""Markdown tables of the measurements, with ratios to the baseline measured in the same run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass
class Series:
    """Every round's figures for one server on one case."""

    case: str
    server: str
    baseline: bool
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    problems: set[str] = field(default_factory=set)

    @property
    def median_rps(self) -> float:
        return statistics.median(self.rps)

    @property
    def median_cpu_us(self) -> float:
        return statistics.median(self.cpu_us)


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}" if base else "–"


def http_table(series: list[Series]) -> str:
    """One row per (case, server): median req/s and CPU µs/req, each as a ratio to raw granian.

    "core busy" is req/s × CPU s/req: well under 1 means the server was starved of its core
    (by other tenants) rather than saturated, so its req/s says less than its CPU µs/req.
    """
    lines = ["| case | server | req/s | × raw req/s | server CPU µs/req | × raw CPU | core busy |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    baselines = {s.case: s for s in series if s.baseline}
    for s in series:
        base = baselines.get(s.case)
        note = f" ({', '.join(sorted(s.problems))})" if s.problems else ""
        lines.append(
            f"| {s.case} | {s.server}{note} | {s.median_rps:,.0f} | "
            f"{_ratio(s.median_rps, base.median_rps) if base else '–'} | {s.median_cpu_us:.1f} | "
            f"{_ratio(s.median_cpu_us, base.median_cpu_us) if base else '–'} | "
            f"{s.median_rps * s.median_cpu_us / 1e6:.2f} |"
        )
    return "\n".join(lines)


@dataclass
class ScaleRow:
    """A one-off measurement, with the baseline's figure where one makes sense."""

    measure: str
    value: str
    baseline: str = "–"
    ratio: str = "–"
    target: str = "–"


def scale_table(rows: list[ScaleRow]) -> str:
    lines = ["| measure | perseus | raw granian | × raw | target |", "| --- | ---: | ---: | ---: | --- |"]
    lines += [f"| {r.measure} | {r.value} | {r.baseline} | {r.ratio} | {r.target} |" for r in rows]
    return "\n".join(lines)
