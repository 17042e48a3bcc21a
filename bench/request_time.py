"""Request-time strategies against their baselines, with wrk (a script, not a test).

    python -P bench/request_time.py [--seconds 5] [--rounds 2] [--only LMDB]

One granian worker pinned to CPU 0, wrk pinned to CPU 1, loopback only. Each pair is
run in alternation (A, B, A, B...) so that a change in machine load hits both sides.
Prints a markdown table: requests per second and server CPU microseconds per request
(utime + stime from /proc over the server's whole process tree), and their ratios.

Pairs:
- a revalidating page served from the LMDB store vs a prerendered page;
- incremental generation, every request a new path (wrk Lua script) vs a prerendered page;
- a request-state page whose view returns a constant vs a raw granian RSGI app calling
  the same view (async state on the loop; sync state through the thread pool, or inline
  with ``blocking=False``);
- a request-state page rendering a Jinja2 template vs a raw RSGI app rendering it;
- a prerendered page with the access log on (text, and JSON; written to a file) vs off.

Every server but those of the access-log pairs runs with ``PERSEUS_ACCESS_LOG=0``.

Needs ``wrk``, ``taskset``, perseus installed, jinja2 importable.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a script: the bench directory goes on the path, so sibling modules import flat.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds  # noqa: E402
from servers import free_port  # noqa: E402
from wrk import parse_wrk  # noqa: E402

SERVER_CPU = "0"
CLIENT_CPU = "1"
CONNECTIONS = 32

SHARED = '''
import jinja2

ITEMS = [{"name": f"item {i}", "price": i * 1.25, "tags": ["a", "b", "c"]} for i in range(30)]
JINJA = jinja2.Environment(autoescape=True).from_string(
    "<h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item.name }}: {{ '%.2f' % item.price }}"
    " {% for tag in item.tags %}<b>{{ tag }}</b>{% endfor %}</li>{% endfor %}</ul>"
)
BODY = "<h1>Hello</h1><p>" + "A paragraph of a prerendered page. " * 20 + "</p>"


def constant_view(ctx, state):
    return BODY


def jinja_view(ctx, state):
    return JINJA.render(title=state["title"], items=ITEMS)
'''

PERSEUS_APP = '''
from shared import BODY, constant_view, jinja_view
from perseus import PerseusApp, Template


async def const_async(info, request):
    return {"n": 1}


def const_sync(info, request):
    return {"n": 1}


async def jinja_state(info, request):
    return {"title": "Catalogue"}


async def page_state(info):
    return {"path": info.path}


app = PerseusApp(templates=[
    Template("index", view=constant_view),
    Template("stored", view=constant_view, build_state=page_state, revalidate_after="1y"),
    Template("gen", view=lambda ctx, s: f"<p>{s['path']}</p>", build_paths=lambda: [],
             build_state=page_state, incremental=True),
    Template("const", view=constant_view, request_state=const_async),
    Template("constsync", view=constant_view, request_state=const_sync),
    Template("constinline", view=constant_view, request_state=const_sync, blocking=False),
    Template("jinja", view=jinja_view, request_state=jinja_state),
])
'''

RAW_APP = '''
from shared import constant_view, jinja_view

HEADERS = [("content-type", "text/html; charset=utf-8")]


class App:
    async def __rsgi__(self, scope, proto):
        if scope.path == "/const":
            proto.response_str(200, HEADERS, constant_view(None, {"n": 1}))
        else:
            proto.response_str(200, HEADERS, jinja_view(None, {"title": "Catalogue"}))


app = App()
'''

UNIQUE_PATHS_LUA = '''
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/gen/RUN-" .. counter)
end
'''




def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")






@dataclass
class Result:
    rps: float
    cpu_us: float


def wrk(server: subprocess.Popen[bytes], url: str, seconds: float, script: Path | None = None) -> Result:
    command = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s"]
    if script is not None:
        command += ["-s", str(script)]
    before = cpu_seconds(server.pid)
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(server.pid) - before
    result = parse_wrk(output)
    if result.non_2xx_3xx or result.socket_errors:
        raise SystemExit(f"{url}: {result.non_2xx_3xx} error responses, {result.socket_errors} socket errors")
    return Result(result.requests_per_second, used / result.requests * 1e6)


def start(command: list[str], cwd: Path, port: int, env: dict[str, str] | None = None,
          log: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "PERSEUS_ACCESS_LOG": "0", **(env or {})}
    output = subprocess.DEVNULL if log is None else open(log, "wb")
    process = subprocess.Popen(["taskset", "-c", SERVER_CPU, *command], cwd=cwd, env=env,
                               stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    wait_ready(port)
    return process


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if len(ordered) % 2 else sum(ordered[len(ordered) // 2 - 1:][:2]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="", help="run only the pairs whose label contains this text")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perseus-request-time-bench-"))
    (work / "shared.py").write_text(SHARED)
    (work / "app.py").write_text(PERSEUS_APP)
    (work / "raw_app.py").write_text(RAW_APP)
    subprocess.run([sys.executable, "-P", "-m", "perseus", "build"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(work)})
    perseus_port, raw_port, text_port, json_port = free_port(), free_port(), free_port(), free_port()

    def serve(port: int) -> list[str]:
        return [sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--workers", "1",
                "--port", str(port)]

    servers = [
        start(serve(perseus_port), work, perseus_port),
        start([sys.executable, "-P", "-m", "granian", "--interface", "rsgi", "--workers", "1",
               "--port", str(raw_port), "--no-ws", "raw_app:app"], work, raw_port),
        start(serve(text_port), work, text_port, {"PERSEUS_ACCESS_LOG": "1", "PERSEUS_LOG_FORMAT": "text"},
              work / "text.log"),
        start(serve(json_port), work, json_port, {"PERSEUS_ACCESS_LOG": "1", "PERSEUS_LOG_FORMAT": "json"},
              work / "json.log"),
    ]
    perseus, raw, logged_text, logged_json = servers
    site, bare = f"http://127.0.0.1:{perseus_port}", f"http://127.0.0.1:{raw_port}"
    pairs = [
        ("prerendered page, text access log / no access log", (logged_text, f"http://127.0.0.1:{text_port}/"),
         (perseus, site + "/")),
        ("prerendered page, JSON access log / no access log", (logged_json, f"http://127.0.0.1:{json_port}/"),
         (perseus, site + "/")),
        ("revalidating page from LMDB / prerendered page", (perseus, site + "/stored"),
         (perseus, site + "/")),
        ("incremental generation, new path each request / prerendered page",
         (perseus, site + "/gen"), (perseus, site + "/")),
        ("request state, constant view (async state) / raw RSGI", (perseus, site + "/const"),
         (raw, bare + "/const")),
        ("request state, constant view (sync state, thread pool) / raw RSGI",
         (perseus, site + "/constsync"), (raw, bare + "/const")),
        ("request state, constant view (sync state, blocking=False: inline) / raw RSGI",
         (perseus, site + "/constinline"), (raw, bare + "/const")),
        ("request state, Jinja2 template / raw RSGI + Jinja2", (perseus, site + "/jinja"),
         (raw, bare + "/jinja")),
    ]
    pairs = [pair for pair in pairs if args.only in pair[0]]
    rows = []
    try:
        for url in (site + "/", site + "/stored", site + "/const", site + "/jinja", bare + "/const"):
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
        for label, (server_a, url_a), (server_b, url_b) in pairs:
            a: list[Result] = []
            b: list[Result] = []
            for _ in range(args.rounds):
                script = None
                if url_a.endswith("/gen"):
                    script = work / "unique.lua"
                    script.write_text(UNIQUE_PATHS_LUA.replace("RUN", secrets.token_hex(4)))
                a.append(wrk(server_a, url_a if script is None else site, args.seconds, script))
                b.append(wrk(server_b, url_b, args.seconds))
            rows.append((label, median([r.rps for r in a]), median([r.rps for r in b]),
                         median([r.cpu_us for r in a]), median([r.cpu_us for r in b])))
    finally:
        for server in servers:
            os.killpg(server.pid, 15)
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"\n{args.rounds} alternating rounds of {args.seconds:.0f}s per side, wrk -t1 -c{CONNECTIONS},"
          f" server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}, load {load:.1f}\n")
    print("| pair (A / B) | A rps | B rps | rps A/B | A CPU µs/req | B CPU µs/req | CPU A/B |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, rps_a, rps_b, cpu_a, cpu_b in rows:
        print(f"| {label} | {rps_a:,.0f} | {rps_b:,.0f} | {rps_a / rps_b:.2f} | {cpu_a:.0f} | {cpu_b:.0f}"
              f" | {cpu_a / cpu_b:.2f} |")


if __name__ == "__main__":
    main()
