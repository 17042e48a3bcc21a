"""``nox -s bench``: perseus against raw granian and Starlette, measured side by side in one run.

Every server is one granian worker pinned to CPU 0; wrk runs pinned to CPU 1. Each server is
compared with a raw granian RSGI app answering the very same bytes and headers from memory,
in alternation over several rounds; the table gives medians and ratios to that baseline, plus
the server's CPU time per request (its whole process tree, from /proc), which other tenants of
a shared machine move far less than requests per second. Results also go to bench/results.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# NOTE: run with -P (the repository root must not shadow the installed perseus_core): only
# this directory goes on the path, so sibling modules import flat.
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import comparison  # noqa: E402
import redis_scale  # noqa: E402
import report  # noqa: E402
import request_paths  # noqa: E402
import scale  # noqa: E402

RESULTS = BENCH_DIR / "results.md"
KERNELS = BENCH_DIR / "kernels.py"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round and a 2,000-page site (~1 min)")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 4, quick 1)")
    parser.add_argument("--rounds", type=int, help="rounds of alternation (default 3, quick 1)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per server and case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pages", type=int, help="pages of the scale site (default 10,000, quick 2,000)")
    parser.add_argument("--no-pure", action="store_true", help="skip the PERSEUS_NO_EXTENSIONS=1 servers")
    parser.add_argument("--only", metavar="TEXT", help="only HTTP cases and servers whose name holds TEXT "
                        "(the raw baseline always runs), e.g. --only JSON or --only perseus")
    parser.add_argument("--no-http", action="store_true", help="skip the wrk comparisons")
    parser.add_argument("--no-request-paths", action="store_true",
                        help="skip first generation, request state and stored pages (bench/request_paths.py)")
    parser.add_argument("--no-scale", action="store_true", help="skip build time, start-up and memory")
    parser.add_argument("--no-kernels", action="store_true", help="skip bench/kernels.py")
    parser.add_argument("--no-redis", action="store_true",
                        help="skip Redis at scale (bench/redis_scale.py; needs redis-server)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (1.0 if args.quick else 4.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.pages = args.pages or (2_000 if args.quick else 10_000)
    return args


def run_kernels(quick: bool) -> str | None:
    """bench/kernels.py's own table (compiled vs pure ns/op), when that file exists."""
    if not KERNELS.exists():
        return None
    command = [sys.executable, "-P", str(KERNELS)]
    done = subprocess.run(command + (["--repeats", "3"] if quick else []), capture_output=True, text=True,
                          timeout=600)
    if quick and done.returncode == 2:  # an argparse usage error: its options changed
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"bench/kernels.py failed ({done.returncode}):\n\n```\n{done.stderr.strip()[-2000:]}\n```"
    return done.stdout.strip()


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing and not args.no_http:
        print(f"error: {' and '.join(missing)} not found: `apt-get install -y wrk util-linux`",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    load_before = load()
    rows: list[report.Row] = []
    sections: list[str] = []
    redis_section = request_section = ""
    with tempfile.TemporaryDirectory(prefix="perseus-bench-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        if not args.no_http:
            print("HTTP: building sites and starting servers", flush=True)
            fleet = comparison.Fleet(work, logs, pure=not args.no_pure)
            try:
                cases = comparison.select(fleet.cases(), args.only)
                series = comparison.measure(cases, rounds=args.rounds, seconds=args.duration,
                                            warmup=args.warmup, connections=args.connections)
            finally:
                fleet.stop()
            rows += report.http_rows(series)
            sections.append(f"HTTP: `wrk -t1 -c{args.connections} -d{args.duration:g}s` after a "
                            f"{args.warmup:g} s warm-up, {args.rounds} round(s) in alternation, medians. "
                            + report.NOTE)
        if not args.no_http and not args.no_request_paths:
            print("request paths: first generation, request state, stored pages", flush=True)
            request_section = request_paths.measure(work, logs, rounds=args.rounds, seconds=args.duration)
        if not args.no_scale:
            print(f"scale: building and serving {args.pages:,} pages", flush=True)
            rows += scale.measure(work, logs, pages=args.pages, pure=not args.no_pure)
        if not args.no_redis and shutil.which("redis-server"):
            keys = 100_000 if args.quick else 1_000_000
            print(f"Redis at scale: generating pages with {keys:,} other keys in Redis", flush=True)
            redis_section = redis_scale.measure(work, logs, keys=keys, pages=10 if args.quick else 40,
                                                rounds=args.rounds)
    if rows:
        sections[:0] = [report.table(rows)]
        sections.append(report.TARGETS)
    if request_section:
        sections.append(request_section)
    if redis_section:
        sections.append(redis_section)
    if not args.no_kernels:
        kernels = run_kernels(args.quick)
        if kernels:
            sections.append("Kernels, from bench/kernels.py:\n\n" + kernels)
    header = (f"# perseus benchmarks\n\n`nox -s bench{' -- ' + ' '.join(argv) if argv else ''}` on "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; load average "
              f"{load_before} before, {load()} after; {time.perf_counter() - started:.0f} s. "
              f"Servers: one granian worker on CPU 0; wrk on CPU 1.")
    text = "\n\n".join([header, *sections]) + "\n"
    print("\n" + text)
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
