"""Soak: does a server's memory stay flat under steady traffic? (issue 15, item 3)

A site of every kind of page (prerendered, generated once and stored then revalidated, rendered
per request, and 404s) is built and served by ``perseus serve`` on 127.0.0.1; wrk requests a
fixed mix of its pages (HTML and JSON, identity, gzip and brotli) over a few connections for the
whole run while the RSS of the server's process tree is sampled from /proc. The set of pages is
steady, so after the first minute (every page requested, every cache filled) the RSS should not
grow: the run passes when its end is within 5% of the RSS it had at the one-minute mark.

    python bench/soak.py [--minutes 10] [--workers 1] [--connections 4] [--results FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import procstat
import servers
import sites

BUILT, STORED, LIVE, MISSING = 2_000, 500, 1_000, 100_000
MARK = 60.0  # seconds: the RSS every later sample is compared with
TOLERANCE = 0.05
SAMPLE_EVERY = 5.0

APP = '''
from html import escape
from perseus import PerseusApp, Template

ITEMS = [f"Item {{i:02d}}: a product with a fairly descriptive name" for i in range(20)]


def page_view(ctx, state):
    items = "".join(f"<li>{{escape(item)}} <span>{{state['n']}}</span></li>" for item in ITEMS)
    return f"<h1>{{escape(state['title'])}}</h1><ul>{{items}}</ul>"


def page_state(info):
    return {{"title": f"{{info.path or 'index'}}", "n": len(info.path)}}


def live_state(info, request):
    return {{"title": f"query {{request.query.get('q', '')}}", "n": len(request.headers.get('accept', ''))}}


app = PerseusApp(templates=[
    Template("page", view=page_view, build_paths=lambda: [str(i) for i in range({built})],
             build_state=page_state),
    Template("stored", view=page_view, build_paths=lambda: ["0"], build_state=page_state,
             incremental=True, revalidate_after="20s"),
    Template("live", view=page_view, request_state=live_state),
])
'''

# One wrk thread: its request() walks a fixed mix of paths; response() counts statuses.
LUA = '''
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) counter = 0; statuses = {{}} end
local encodings = {{"identity", "gzip", "br"}}
request = function()
  counter = counter + 1
  local kind, n = counter % 10, counter % {missing}
  local path
  if kind < 4 then path = "/page/" .. (n % {built})
  elseif kind == 4 then path = "/.perseus/page/xx-XX/page/" .. (n % {built}) .. ".json"
  elseif kind < 7 then path = "/stored/" .. (n % {stored})
  elseif kind == 7 then path = "/live?q=" .. (n % {live})
  else path = "/missing/" .. n end
  return wrk.format("GET", path, {{["Accept-Encoding"] = encodings[counter % 3 + 1]}})
end
response = function(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do print("status " .. status .. " " .. count) end
  end
end
'''


@dataclass
class Soak:
    """What one run measured: (seconds since the load started, RSS, anonymous RSS) samples."""

    minutes: float
    workers: int
    connections: int
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    load_before: str = ""
    load_after: str = ""

    def at(self, seconds: float) -> tuple[float, int, int]:
        """The first sample taken at or after ``seconds``."""
        return next(sample for sample in self.samples if sample[0] >= seconds)

    @property
    def growth(self) -> float:
        """The last sample's RSS over the one-minute mark's, minus one."""
        return self.samples[-1][1] / self.at(MARK)[1] - 1

    @property
    def passed(self) -> bool:
        return self.growth <= TOLERANCE


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_site(root: Path) -> Path:
    site = root / "soak"
    site.mkdir()
    (site / "app.py").write_text(APP.format(built=BUILT))
    return site


def run(work: Path, minutes: float, workers: int, connections: int) -> Soak:
    site = write_site(work)
    sites.build(site)
    script = work / "soak.lua"
    script.write_text(LUA.format(built=BUILT, stored=STORED, live=LIVE, missing=MISSING))
    logs = work / "logs"
    logs.mkdir()
    soak = Soak(minutes, workers, connections, load_before=_load())
    server = servers.ServerProcess(
        "perseus soak", [sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--port", "{port}",
                         "--workers", str(workers)],
        cwd=site, env={"PERSEUS_ACCESS_LOG": "0"}, ready_path="/page/0", log_dir=logs)
    try:
        seconds = minutes * 60
        load = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                                 "-s", str(script), server.url("/")], stdout=subprocess.PIPE, text=True)
        started = time.perf_counter()
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.append(load.communicate()[0]))
        reader.start()
        while load.poll() is None:
            kinds = procstat.memory_kinds(server.pid)
            soak.samples.append((time.perf_counter() - started, server.rss_bytes(), kinds["anon"]))
            time.sleep(SAMPLE_EVERY)
        reader.join()
    finally:
        server.stop()
    soak.load_after = _load()
    for line in output[0].splitlines():
        if line.startswith("status "):
            _, status, count = line.split()
            soak.statuses[int(status)] = soak.statuses.get(int(status), 0) + int(count)
        elif "requests in" in line:
            soak.requests = int(line.split()[0])
    return soak


def report(soak: Soak) -> str:
    mark = soak.at(MARK)
    last = soak.samples[-1]
    statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(soak.statuses.items()))
    lines = [
        f"Soak (`python bench/soak.py --minutes {soak.minutes:g}`),"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:"
        f" `perseus serve --workers {soak.workers}` on a site of {BUILT:,} prerendered pages, {STORED} pages"
        f" generated on first request and stored (revalidated every 20 s), pages rendered per request and"
        f" 404s; `wrk -t1 -c{soak.connections}` for {soak.minutes:g} min, 10% JSON, a third each identity,"
        f" gzip and brotli. {soak.requests:,} requests ({statuses}). Load average {soak.load_before} before,"
        f" {soak.load_after} after.",
        "",
        "| minute | RSS of the server tree | of which anonymous |",
        "| ---: | ---: | ---: |",
    ]
    minute = 0.0
    for seconds, rss, anon in soak.samples:
        if seconds >= minute:
            lines.append(f"| {seconds / 60:.1f} | {rss / 2**20:.1f} MiB | {anon / 2**20:.1f} MiB |")
            minute += 60
    if lines[-1] != f"| {last[0] / 60:.1f} | {last[1] / 2**20:.1f} MiB | {last[2] / 2**20:.1f} MiB |":
        lines.append(f"| {last[0] / 60:.1f} | {last[1] / 2**20:.1f} MiB | {last[2] / 2**20:.1f} MiB |")
    verdict = "within" if soak.passed else "NOT within"
    lines += ["", f"End vs the one-minute mark: {last[1] / 2**20:.1f} MiB vs {mark[1] / 2**20:.1f} MiB,"
                  f" {soak.growth:+.1%} ({verdict} {TOLERANCE:.0%}); anonymous {last[2] / 2**20:.1f} vs"
                  f" {mark[2] / 2**20:.1f} MiB; highest {max(s[1] for s in soak.samples) / 2**20:.1f} MiB."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="granian workers of the server")
    parser.add_argument("--connections", type=int, default=4, help="wrk's connections (the load's bound)")
    parser.add_argument("--results", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.minutes * 60 < MARK + 2 * SAMPLE_EVERY:
        parser.error(f"--minutes must leave samples after the {MARK:g} s mark")
    with tempfile.TemporaryDirectory(prefix="perseus-soak-") as work:
        soak = run(Path(work), args.minutes, args.workers, args.connections)
    text = report(soak)
    print(text)
    if args.results:
        args.results.write_text("# perseus soak\n\n" + text + "\n")
    return 0 if soak.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
