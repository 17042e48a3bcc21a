"""``nox -s bench-scale``: issue 15's build and memory targets at full size (about 15 minutes).

- 100,000 pages of the 11 KB Jinja2 catalogue page (``build_scale.py``): build wall time with
  2 workers against 1, side by side, and the absolute time;
- 20,000 of them: the build's peak RSS (summed over its process tree);
- 1,000,000 small pages (``sites.SCALE_APP``): the build's peak RSS with every core, then
  the server's start → first 200 and its RSS;
- serving the 100,000 pages: start → first 200 (median of 3), then every page requested
  once; the server tree's anonymous RSS (its own memory) and file-backed RSS (the page bodies
  mapped from dist/, which the kernel can drop), and the bytes per page on disk by kind.

Results go to bench/results-scale.md. ``--pages``, ``--memory-pages`` and ``--million``
shrink the sites (e.g. for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import build_scale  # noqa: E402
import procstat  # noqa: E402
import servers  # noqa: E402
import sites  # noqa: E402
from scale import fetch_all  # noqa: E402

RESULTS = BENCH_DIR / "results-scale.md"
STARTS = 3
MIB = 2**20
# The span kinds of a page's record in pages.idx, in DistWriter.add_page's order.
KINDS = ("HTML", "JSON", "HTML gzip", "JSON gzip", "HTML brotli", "JSON brotli")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def build_rows(site: Path, pages: int, rounds: int) -> list[tuple[str, str, str]]:
    """Build wall time with 1 and 2 workers, alternating, ``rounds`` times each."""
    times: dict[int, list[float]] = {1: [], 2: []}
    peaks: dict[int, int] = {1: 0, 2: 0}
    for _ in range(rounds):
        for workers in (1, 2):
            seconds, peak = build_scale.measure_build(site, workers)
            times[workers].append(seconds)
            peaks[workers] = max(peaks[workers], peak)
            print(f"  {pages:,} pages, {workers} worker(s): {seconds:.1f} s, peak {peak / MIB:.0f} MiB"
                  f" (load {load()})", flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    ratios = [a / b for a, b in zip(times[1], times[2], strict=True)]
    case = f"`perseus build`, {pages:,} Jinja2 pages"
    return [
        (f"{case}, 1 worker (median of {rounds})", f"{one:.1f} s (peak RSS {peaks[1] / MIB:.0f} MiB)", "–"),
        (f"{case}, 2 workers (median of {rounds})", f"{two:.1f} s (peak RSS {peaks[2] / MIB:.0f} MiB)",
         "≤ 60 s"),
        (f"{case}: 2 workers vs 1", f"{one / two:.2f}x (rounds: {', '.join(f'{r:.2f}x' for r in ratios)})",
         "≥ 1.7x"),
    ]


def memory_rows(site: Path, pages: int) -> list[tuple[str, str, str]]:
    rows = []
    for workers in (1, 2):
        seconds, peak = build_scale.measure_build(site, workers)
        print(f"  {pages:,} pages, {workers} worker(s): peak {peak / MIB:.0f} MiB", flush=True)
        rows.append((f"`perseus build` peak RSS (process tree), {pages:,} Jinja2 pages, {workers} worker(s)",
                     f"{peak / MIB:.0f} MiB ({seconds:.1f} s)", "≤ 512 MiB"))
    return rows


def _start(site: Path, logs: Path, ready: str) -> tuple[float, servers.ServerProcess]:
    """Median start → first 200 over STARTS starts; the last server keeps running."""
    seconds = []
    for attempt in range(STARTS):
        server = servers.perseus_server("perseus scale", site, logs, ready_path=ready)
        seconds.append(server.ready_at - server.started_at)
        if attempt < STARTS - 1:
            server.stop()
    return statistics.median(seconds), server


def _memory(server: servers.ServerProcess) -> str:
    kinds = procstat.memory_kinds(server.pid)
    return (f"anonymous {kinds['anon'] / MIB:.1f} MiB, file-backed {kinds['file'] / MIB:.1f} MiB"
            f" (RSS {server.rss_bytes() / MIB:.1f} MiB)")


def million_rows(work: Path, logs: Path, pages: int) -> list[tuple[str, str, str]]:
    site = sites.scale_site(work, pages)
    seconds, peak = build_scale.measure_build(site, None)
    print(f"  {pages:,} small pages built in {seconds:.1f} s, peak {peak / MIB:.0f} MiB", flush=True)
    start, server = _start(site, logs, f"/item/{pages - 1}")
    try:
        fetch_all(server.port, [f"/item/{i}" for i in range(0, pages, max(1, pages // 1000))])
        memory = _memory(server)
    finally:
        server.stop()
    case = f"{pages:,} small pages"
    return [
        (f"{case}: `perseus build` (every core), peak RSS of the tree",
         f"{peak / MIB:.0f} MiB ({seconds:.0f} s)", "≤ 1 GiB"),
        (f"{case}: start → first 200 (median of {STARTS})", f"{start:.2f} s", "answers"),
        (f"{case}: server tree after 1,000 of its pages", memory, "–"),
    ]


def disk_rows(dist: Path, pages: int) -> list[tuple[str, str, str]]:
    """Bytes per page on disk, by kind of body, from the dist's own index."""
    from perseus.stores.immutable import Dist

    opened = Dist(dist)
    totals = [0] * len(KINDS)
    for page in opened.pages:
        spans = (page.html, page.json, page.html_gz, page.json_gz, page.html_br, page.json_br)
        for kind, span in enumerate(spans):
            totals[kind] += span[1] if span else 0
    index = sum((dist / name).stat().st_size for name in ("pages.idx", "pages.paths"))
    parts = ", ".join(f"{kind} {total / pages:,.0f}" for kind, total in zip(KINDS, totals, strict=True))
    return [(f"bytes per page in dist/ ({pages:,} Jinja2 pages)",
             f"{(sum(totals) + index) / pages:,.0f} B: {parts}, index {index / pages:.0f}", "–")]


def serve_rows(site: Path, logs: Path, pages: int) -> list[tuple[str, str, str]]:
    start, server = _start(site, logs, "/item/0")
    try:
        fetch_all(server.port, [f"/item/{i}" for i in range(pages)])
        memory = _memory(server)
        kinds = procstat.memory_kinds(server.pid)
    finally:
        server.stop()
    print(f"  serving {pages:,} pages: start {start:.2f} s; {memory}", flush=True)
    return [
        (f"serving {pages:,} Jinja2 pages: start → first 200 (median of {STARTS})", f"{start:.2f} s",
         "≤ 1 s"),
        (f"serving {pages:,} Jinja2 pages: server tree after GET of every page once", memory,
         "anonymous ≤ 150 MiB"),
        (f"serving {pages:,} Jinja2 pages: file-backed per page requested",
         f"{kinds['file'] / pages:,.0f} B", "–"),
    ]


def table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| case | result | target |", "| --- | ---: | ---: |"]
    return "\n".join(lines + [f"| {case} | {result} | {target} |" for case, result, target in rows])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000, help="Jinja2 pages built and served")
    parser.add_argument("--memory-pages", type=int, default=20_000, help="Jinja2 pages of the peak-RSS build")
    parser.add_argument("--million", type=int, default=1_000_000, help="small pages built and served")
    parser.add_argument("--rounds", type=int, default=1, help="1 vs 2 worker builds of --pages, alternating")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started, load_before = time.perf_counter(), load()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="perseus-bench-scale-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        print(f"peak RSS building {args.memory_pages:,} Jinja2 pages", flush=True)
        memory_site = build_scale.write_site(work / "memory", args.memory_pages)
        rows += memory_rows(memory_site, args.memory_pages)
        shutil.rmtree(memory_site)
        print(f"building {args.pages:,} Jinja2 pages with 1 and 2 workers", flush=True)
        site = build_scale.write_site(work, args.pages)
        rows += build_rows(site, args.pages, args.rounds)
        rows += disk_rows(site / "dist", args.pages)
        print(f"serving {args.pages:,} Jinja2 pages", flush=True)
        rows += serve_rows(site, logs, args.pages)
        shutil.rmtree(site)
        print(f"building and serving {args.million:,} small pages", flush=True)
        rows += million_rows(work, logs, args.million)
    header = (f"# perseus at scale\n\n`nox -s bench-scale{' -- ' + ' '.join(argv) if argv else ''}`"
              f" (bench/scale_large.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};"
              f" {os.cpu_count()} CPUs; load average {load_before} before, {load()} after;"
              f" {time.perf_counter() - started:.0f} s. Servers: `perseus serve --workers 1` on CPU 0;"
              " memory read from /proc/<pid>/status (RssAnon, RssFile) summed over the server's"
              " process tree; builds' peak RSS sampled every 20 ms over theirs.")
    text = f"{header}\n\n{table(rows)}\n"
    print("\n" + text)
    args.results.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
