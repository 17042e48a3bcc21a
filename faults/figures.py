"""The closing note of a fault run: one row of figures per scenario, on the terminal and in a file."""

from __future__ import annotations

from dataclasses import dataclass, field

from faults.tally import Tally

COLUMNS = ("scenario", "result", "requests", "5xx", "hangs", "leaks", "lost", "torn", "RSS start", "RSS end")


def mebibytes(size: int | None) -> str:
    return "" if size is None else f"{size / (1 << 20):.0f} MiB"


@dataclass
class Figures:
    """What one scenario measured; a field left None was not measured by it."""

    scenario: str
    result: str = "not run"
    requests: int | None = None
    failed_5xx: int | None = None  # 5xx other than the intended ones
    hangs: int | None = None
    leaks: int | None = None
    lost: int | None = None  # records answered 200 but missing from the store afterwards
    torn: int | None = None  # stored records that do not decode whole
    rss_start: int | None = None
    rss_end: int | None = None
    notes: list[str] = field(default_factory=list)

    def add_requests(self, tally: Tally) -> None:
        """Add the counts of answers seen."""
        self.requests = (self.requests or 0) + tally.tried
        self.failed_5xx = (self.failed_5xx or 0) + tally.failed_5xx
        self.hangs = (self.hangs or 0) + len(tally.hangs)
        self.leaks = (self.leaks or 0) + len(tally.leaks) + len(tally.tracebacks)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def row(self) -> list[str]:
        def shown(value: int | None) -> str:
            return "" if value is None else str(value)

        return [self.scenario, self.result, shown(self.requests), shown(self.failed_5xx), shown(self.hangs),
                shown(self.leaks), shown(self.lost), shown(self.torn), mebibytes(self.rss_start),
                mebibytes(self.rss_end)]


def table(all_figures: list[Figures], header: str) -> str:
    """The figures as a Markdown table, each scenario's notes below it."""
    rows = [list(COLUMNS), ["---"] * len(COLUMNS), *(figures.row() for figures in all_figures)]
    lines = [header, "", *("| " + " | ".join(row) + " |" for row in rows), ""]
    for figures in all_figures:
        for text in figures.notes:
            lines.append(f"- {figures.scenario}: {text}")
    return "\n".join(lines) + "\n"
