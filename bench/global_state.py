"""What request-time global state costs: a page rendered per request for it vs the same page
prerendered (with build-time global state only), with wrk (a script, not a test).

    python -P bench/global_state.py [--seconds 5] [--rounds 3]

Two sites with the same templates, each served by one granian worker pinned to CPU 0, wrk
on CPU 1, loopback only; the sides alternate (A, B, A, B...) so a change in machine load
hits both. A: ``request_global_state`` (async, on the loop; or sync, through the thread
pool), so every page renders per request. B: ``global_state`` only, so the page is
prerendered. Prints requests per second, server CPU microseconds per request and their ratios (A / B).

Needs ``wrk``, ``taskset``, perseus installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a script: the bench directory goes on the path, so sibling modules import flat.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from request_time import CLIENT_CPU, CONNECTIONS, SERVER_CPU, Result, median, start, wrk  # noqa: E402
from servers import free_port  # noqa: E402

APP = '''
from perseus import PerseusApp, Template

BODY = "<p>" + "A paragraph of a page with state. " * 20 + "</p>"


def view(ctx, state):
    return f"<h1>{{state['title']}} for {{ctx.global_state['site']}}</h1>" + BODY


async def request_global_async(request):
    return {{"site": "the visitor"}}


def request_global_sync(request):
    return {{"site": "the visitor"}}


app = PerseusApp(
    templates=[Template("about", view=view, build_state=lambda info: {{"title": "About"}},
                        head=lambda ctx, state: "<title>About</title>")],
    global_state=lambda: {{"site": "the build"}},
    {request_global}
)
'''
SITES = {
    "async": "request_global_state=request_global_async,",
    "sync": "request_global_state=request_global_sync,",
    "prerendered": "",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perseus-global-state-bench-"))
    servers = {}
    try:
        for name, request_global in SITES.items():
            site = work / name
            site.mkdir()
            (site / "app.py").write_text(APP.format(request_global=request_global))
            subprocess.run([sys.executable, "-P", "-m", "perseus", "build"], cwd=site, check=True,
                           stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(site)})
            port = free_port()
            servers[name] = (start([sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--workers",
                                    "1", "--port", str(port)], site, port), f"http://127.0.0.1:{port}/about")
        for _, url in servers.values():
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
        baseline_server, baseline_url = servers["prerendered"]
        rows = []
        for name in ("async", "sync"):
            server, url = servers[name]
            a: list[Result] = []
            b: list[Result] = []
            for _ in range(args.rounds):
                a.append(wrk(server, url, args.seconds))
                b.append(wrk(baseline_server, baseline_url, args.seconds))
            rows.append((f"request_global_state ({name}) / prerendered", median([r.rps for r in a]),
                         median([r.rps for r in b]), median([r.cpu_us for r in a]),
                         median([r.cpu_us for r in b])))
    finally:
        for server, _ in servers.values():
            os.killpg(server.pid, 15)
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.rounds} alternating rounds of {args.seconds:.0f}s per side, wrk -t1 -c{CONNECTIONS},"
          f" server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}, load {os.getloadavg()[0]:.1f}")
    for label, rps_a, rps_b, cpu_a, cpu_b in rows:
        print(f"{label}: {rps_a:,.0f} / {rps_b:,.0f} req/s = {rps_a / rps_b:.2f};"
              f" CPU {cpu_a:.0f} / {cpu_b:.0f} µs per request = {cpu_a / cpu_b:.2f}")

if __name__ == "__main__":
    main()
