"""Redis at scale: generating a new page with many other keys in Redis against an empty Redis.

    python -P bench/redis_scale.py [--keys 1000000] [--pages 40] [--rounds 3]

Also a section of ``nox -s bench`` (``bench/run.py``; ``--no-redis`` skips it). Two
``redis-server`` processes, one empty and one filled with ``--keys`` other keys (``DEBUG
POPULATE``), each behind its own ``perseus serve`` (one worker pinned to CPU 0,
``PERSEUS_STORE=redis://...``) of the same incremental site. Every request asks for a path
never asked before, so each one generates, stores and serves a page. The two sides are run
in alternation over ``--rounds`` rounds, so a change in machine load hits both; the table
gives the median and 90th percentile per page and the ratio of the filled side to the
empty one (the target is about 1.0), and the Redis commands each generation cost, from
``INFO commandstats`` (any SCAN, KEYS or DBSIZE on this path would grow with the database).
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a script: the bench directory goes on the path, so sibling modules import flat.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import ServerProcess, free_port  # noqa: E402

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Commands whose cost grows with the number of keys in the database.
KEYSPACE_COMMANDS = ("scan", "keys", "dbsize")
INCREMENTAL_APP = '''
from perseus import PerseusApp, Template


def post_state(info):
    return {"slug": info.path}


def post_view(ctx, state):
    return "<h1>" + state["slug"] + "</h1><p>" + "A generated page. " * 40 + "</p>"


app = PerseusApp(templates=[
    Template("index", view=lambda ctx, state: "<h1>Home</h1>"),
    Template("post", view=post_view, build_state=post_state, incremental=True),
])
'''


class Redis:
    """A throw-away ``redis-server`` on a free loopback port, spoken to in raw RESP."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory), "--enable-debug-command", "local"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.command("PING") == b"+PONG":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def command(self, *words: str, timeout: float = 120) -> bytes:
        """One inline command; its whole reply (read until the server has sent it)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(" ".join(words).encode() + b"\r\n")
            reply = sock.recv(1 << 16)
            if reply.startswith(b"$"):  # a bulk string: its length is in the first line
                length, _, rest = reply[1:].partition(b"\r\n")
                while len(rest) < int(length) + 2:
                    rest += sock.recv(1 << 16)
                return rest[:int(length)]
            return reply.rstrip(b"\r\n")

    def keys(self) -> int:
        return int(self.command("DBSIZE")[1:])

    def command_calls(self) -> dict[str, int]:
        """Calls per command so far, from ``INFO commandstats``."""
        calls = {}
        for line in self.command("INFO", "commandstats").decode().splitlines():
            if line.startswith("cmdstat_"):
                name, _, fields = line[len("cmdstat_"):].partition(":")
                calls[name] = int(fields.split(",")[0].partition("=")[2])
        return calls

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Side:
    """One Redis and the perseus server in front of it, with the timings taken so far."""

    def __init__(self, name: str, site: Path, redis: Redis, logs: Path) -> None:
        self.name = name
        self.redis = redis
        env = {"PERSEUS_STORE": redis.url, "PERSEUS_MUTABLE_DIR": str(site / f"mutable-{redis.port}")}
        self.server = ServerProcess(name, [sys.executable, "-P", "-m", "perseus", "serve", "--no-build",
                                           "--port", "{port}", "--workers", "1"],
                                    cwd=site, env=env, log_dir=logs)
        self.seconds: list[float] = []
        self.generated = 0
        self.commands: dict[str, int] = {}

    def generate(self, pages: int) -> None:
        """Ask for ``pages`` new paths over one keep-alive connection, timing each answer."""
        before = self.redis.command_calls()
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            for _ in range(pages):
                started = time.perf_counter()
                slug = uuid.uuid4().hex
                connection.request("GET", f"/post/{slug}")
                answer = connection.getresponse()
                body = answer.read()
                self.seconds.append(time.perf_counter() - started)
                if answer.status != 200 or slug.encode() not in body:
                    raise RuntimeError(f"{self.name}: /post/{slug} answered {answer.status}")
        finally:
            connection.close()
        after = self.redis.command_calls()
        for name, calls in after.items():
            self.commands[name] = self.commands.get(name, 0) + calls - before.get(name, 0)
        self.generated += pages



def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _commands_per_page(side: Side) -> str:
    counted = {name: calls / side.generated for name, calls in side.commands.items()
               if name not in ("info", "ping") and calls}
    return ", ".join(f"{name} {calls:.1f}" for name, calls in sorted(counted.items())) or "none"


def measure(work: Path, logs: Path, *, keys: int, pages: int, rounds: int) -> str:
    """The markdown section: both sides measured in alternation, and their ratio."""
    site = work / "redis-scale-site"
    site.mkdir()
    (site / "app.py").write_text(INCREMENTAL_APP)
    subprocess.run([sys.executable, "-P", "-m", "perseus", "build"], cwd=site, check=True,
                   capture_output=True, timeout=300)
    sides: list[Side] = []
    redises: list[Redis] = []
    try:
        empty = Redis(work / "redis-empty")
        redises.append(empty)
        sides.append(Side("empty Redis", site, empty, logs))
        filled = Redis(work / "redis-filled")
        redises.append(filled)
        started = time.perf_counter()
        filled.command("DEBUG", "POPULATE", str(keys), "bench:other", "64")
        fill_seconds = time.perf_counter() - started
        sides.append(Side(f"Redis with {keys:,} other keys", site, filled, logs))
        for side in sides:
            side.generate(3)  # warm-up: imports, first connections, script loading
            side.seconds.clear()
            side.commands.clear()
            side.generated = 0
        for _ in range(rounds):
            for side in sides:
                side.generate(pages)
        lines = [f"Redis at scale: {rounds} round(s) of {pages} new incremental pages per side in"
                 f" alternation, one `perseus serve` worker each on CPU 0, `PERSEUS_STORE=redis://`;"
                 f" {keys:,} keys filled by `DEBUG POPULATE` in {fill_seconds:.2f} s"
                 f" (the filled Redis holds {filled.keys():,}).", "",
                 "| Redis | median ms/page | p90 ms/page | × empty Redis | Redis commands per page |"
                 " keyspace-wide commands |",
                 "| --- | ---: | ---: | ---: | --- | ---: |"]
        base = statistics.median(sides[0].seconds)
        for side in sides:
            median = statistics.median(side.seconds)
            wide = sum(side.commands.get(name, 0) for name in KEYSPACE_COMMANDS)
            lines.append(f"| {side.name} | {median * 1000:.2f} | {_percentile(side.seconds, 0.9) * 1000:.2f}"
                         f" | {median / base:.2f} | {_commands_per_page(side)} | {wide} |")
        return "\n".join(lines)
    finally:
        for side in sides:
            side.server.stop()
        for redis in redises:
            redis.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000, help="other keys in the filled Redis")
    parser.add_argument("--pages", type=int, default=40, help="new pages per side and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="perseus-redis-bench-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        print(measure(work, logs, keys=args.keys, pages=args.pages, rounds=args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
