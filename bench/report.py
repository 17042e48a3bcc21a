"""One markdown table of every measurement, each with its ratio to raw granian in the same run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

MIB = 1024 * 1024
TARGETS = ("Targets (issues 2 and 3): built page and JSON endpoint ≥ 0.95 × raw granian; 10,000 pages "
           "built in < 10 s; first 200 ≤ 0.5 s after start; < 100 MiB resident serving 10,000 pages.")
NOTE = ("\"core busy\" is req/s × CPU s/req: well under 1 means the server was starved of its core by "
        "other tenants rather than saturated, so its req/s says less than its CPU µs/req.")


@dataclass
class Series:
    """Every round's figures for one server on one HTTP case."""

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


@dataclass
class Row:
    """One line of the table; ratios are to the raw granian row of the same case."""

    case: str
    server: str
    result: str
    ratio: str = "–"
    cpu_us: str = "–"
    cpu_ratio: str = "–"
    busy: str = "–"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.3f}" if base else "–"


def http_rows(series: list[Series]) -> list[Row]:
    """Median req/s and CPU µs/req per (case, server)."""
    baselines = {s.case: s for s in series if s.baseline}
    rows = []
    for s in series:
        base = baselines[s.case]
        note = f" ({', '.join(sorted(s.problems))})" if s.problems else ""
        busy = s.median_rps * s.median_cpu_us / 1e6
        rows.append(Row(s.case, s.server + note, f"{s.median_rps:,.0f} req/s",
                        ratio(s.median_rps, base.median_rps), f"{s.median_cpu_us:.1f}",
                        ratio(s.median_cpu_us, base.median_cpu_us), f"{busy:.2f}"))
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| case | server | result | × raw granian | server CPU µs/req | × raw CPU | core busy |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.case} | {r.server} | {r.result} | {r.ratio} | {r.cpu_us} | {r.cpu_ratio} | {r.busy} |"
              for r in rows]
    return "\n".join(lines)
