"""The request-path targets of issue 15, on the 50-item Jinja2 catalogue page, side by side.

    python -P bench/request_paths.py [--seconds 3] [--rounds 3]

One granian worker per server pinned to CPU 0, wrk pinned to CPU 1, loopback only; each pair
runs in alternation (A, B, A, B...). Pairs, each with its target:

- incremental generation, every request a new path / a bare RSGI app rendering the same
  Jinja2 template per request (≥ 0.80), with an async build state and with a sync one
  (which runs in the thread pool);
- a request-state page of that template / the bare RSGI app (≥ 0.97);
- the page stored in LMDB (a revalidating page the build stored; a generated page once
  stored) / the same page prerendered (≥ 0.97).

Also what ``nox -s bench`` (bench/run.py) records as a section of bench/results.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
from pathlib import Path

# Run as a script: the bench directory goes on the path, so sibling modules import flat.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402
import sites  # noqa: E402
import wrk  # noqa: E402
from request_time import UNIQUE_PATHS_LUA  # noqa: E402

CONNECTIONS = 32

SHARED = '''
import jinja2

ITEMS = ITEM_LIST
STATE = {"title": "Catalogue", "items": ITEMS}
CATALOG = jinja2.Environment(autoescape=True).from_string(
    '<header><h1>{{ title }}</h1><p>Everything we sell, in one list.</p></header>'
    '<nav><a href="/">Home</a> <a href="/catalog">Catalogue</a> <a href="/about">About</a> '
    '<a href="/contact">Contact</a></nav><main><ul class="items">{% for item in items %}'
    + ITEM + '{% endfor %}</ul></main>'
    '<footer><p>Example shop, 1 Example Street. All prices include VAT.</p></footer>'
)


def catalog_view(ctx, state):
    return CATALOG.render(title=state["title"], items=state["items"])
'''

PERSEUS_APP = '''
from shared import STATE, catalog_view
from perseus import PerseusApp, Template


def catalog_state(info):
    return STATE


async def catalog_state_async(info):
    return STATE


async def live_state(info, request):
    return STATE


def head(ctx, state):
    return "<title>Catalogue</title>"


app = PerseusApp(templates=[
    Template("index", view=catalog_view, head=head, build_state=catalog_state),
    Template("stored", view=catalog_view, head=head, build_state=catalog_state, revalidate_after="1y"),
    Template("gen", view=catalog_view, head=head, build_paths=lambda: [], build_state=catalog_state,
             incremental=True),
    Template("gena", view=catalog_view, head=head, build_paths=lambda: [], build_state=catalog_state_async,
             incremental=True),
    Template("live", view=catalog_view, head=head, request_state=live_state),
])
'''

RAW_APP = '''
from shared import STATE, catalog_view

HEADERS = [("content-type", "text/html; charset=utf-8")]


class App:
    async def __rsgi__(self, scope, proto):
        proto.response_str(200, HEADERS, catalog_view(None, STATE))


app = App()
'''

# (label, A, B, target): A and B name a server ("perseus", "raw") and a path; "/gen/*" is a
# new path below /gen/ on every request.
PAIRS = [
    ("incremental page, first generation (new path each request), async build state / bare RSGI app"
     " rendering it", ("perseus", "/gena/*"), ("raw", "/"), 0.80),
    ("the same, sync build state (in the thread pool) / bare RSGI app rendering it",
     ("perseus", "/gen/*"), ("raw", "/"), 0.80),
    ("request-state page / bare RSGI app rendering it", ("perseus", "/live"), ("raw", "/"), 0.97),
    ("revalidating page stored in LMDB / prerendered page", ("perseus", "/stored"), ("perseus", "/"), 0.97),
    ("generated page stored in LMDB / prerendered page", ("perseus", "/gen/kept"), ("perseus", "/"), 0.97),
]


def _site(work: Path) -> Path:
    site = work / "request-paths"
    site.mkdir()
    shared = SHARED.replace("+ ITEM +", f"+ {sites.JINJA_ITEM!r} +")
    (site / "shared.py").write_text(shared.replace("ITEM_LIST", repr(sites.catalog_items())))
    (site / "app.py").write_text(PERSEUS_APP)
    (site / "raw_app.py").write_text(RAW_APP)
    sites.build(site)
    return site


def _run(server: servers.ServerProcess, path: str, seconds: float, script: Path) -> tuple[float, float]:
    """(requests per second, server CPU µs per request) of one wrk run."""
    before = server.cpu_seconds()
    if path.endswith("/*"):
        lua = UNIQUE_PATHS_LUA.replace("/gen/", path[:-1]).replace("RUN", secrets.token_hex(4))
        script.write_text(lua)
        result = wrk.run_wrk(server.url("/"), seconds, connections=CONNECTIONS, script=script)
    else:
        result = wrk.run_wrk(server.url(path), seconds, connections=CONNECTIONS)
    used = server.cpu_seconds() - before
    if result.non_2xx_3xx or result.socket_errors:
        raise RuntimeError(f"{server.name} {path}: {result.non_2xx_3xx} error answers, "
                           f"{result.socket_errors} socket errors")
    return result.requests_per_second, used / max(result.requests, 1) * 1e6


def measure(work: Path, logs: Path, *, rounds: int, seconds: float, only: str = "") -> str:
    """The pairs (those whose label holds ``only``), ``rounds`` rounds in alternation: a
    markdown section for bench/results.md."""
    site = _site(work)
    env = {"PYTHONPATH": str(site)}
    running: dict[str, servers.ServerProcess] = {}
    try:
        running["perseus"] = servers.perseus_server("perseus request paths", site, logs, ready_path="/")
        running["raw"] = servers.ServerProcess(
            "raw RSGI + Jinja2", [sys.executable, "-P", "-m", "granian", "--interface", "rsgi",
                                  "--workers", "1", "--host", "127.0.0.1", "--port", "{port}",
                                  "--no-access-log", "--no-ws", "raw_app:app"],
            cwd=site, env=env, ready_path="/", log_dir=logs)
        servers.fetch(running["perseus"].port, "/gen/kept")  # generated and stored once
        for server in running.values():  # warm-up
            wrk.run_wrk(server.url("/"), 1, connections=CONNECTIONS)
        rows = []
        for label, (a_name, a_path), (b_name, b_path), target in [p for p in PAIRS if only in p[0]]:
            a: list[tuple[float, float]] = []
            b: list[tuple[float, float]] = []
            for _ in range(rounds):
                a.append(_run(running[a_name], a_path, seconds, work / "unique.lua"))
                b.append(_run(running[b_name], b_path, seconds, work / "unique.lua"))
            rows.append((label, target, [statistics.median(x) for x in zip(*a, strict=True)],
                         [statistics.median(x) for x in zip(*b, strict=True)]))
    finally:
        for server in running.values():
            server.stop()
    lines = [f"Request paths (issue 15), the 50-item Jinja2 catalogue page (state embedded): "
             f"`wrk -t1 -c{CONNECTIONS} -d{seconds:g}s`, {rounds} round(s) in alternation, medians; "
             f"load {os.getloadavg()[0]:.1f} after.", "",
             "| pair (A / B) | A req/s | B req/s | req/s A/B | target | A CPU µs/req | B CPU µs/req"
             " | CPU B/A |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, target, (rps_a, cpu_a), (rps_b, cpu_b) in rows:
        verdict = "met" if rps_a / rps_b >= target else "missed"
        lines.append(f"| {label} | {rps_a:,.0f} | {rps_b:,.0f} | {rps_a / rps_b:.3f} | ≥ {target:.2f} "
                     f"({verdict}) | {cpu_a:.0f} | {cpu_b:.0f} | {cpu_b / cpu_a:.3f} |")
    return "\n".join(lines)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="only the pairs whose label holds this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perseus-request-paths-") as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        print(measure(Path(tmp), logs, rounds=args.rounds, seconds=args.seconds, only=args.only))


if __name__ == "__main__":
    main()
