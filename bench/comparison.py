"""The HTTP comparison: each case served by perseus, raw granian and Starlette, in alternation."""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import report
import servers
import sites
import wrk

POST = "/post/first"
CATALOG = "/catalog"
POST_JSON = "/.perseus/page/xx-XX/post/first.json"
MISSING = "/no/such/page"
RAW_LABEL = "raw granian RSGI (same bytes from memory)"
# Headers granian adds by itself: the raw app must not send them twice.
SERVER_HEADERS = {"date", "server", "content-length", "transfer-encoding"}


@dataclass
class Contender:
    """One server answering one case at ``path`` with ``status``."""

    server: servers.ServerProcess
    path: str
    label: str
    status: int


@dataclass
class Case:
    name: str
    contenders: list[Contender]  # the first is the raw granian baseline


def answer_of(server: servers.ServerProcess, path: str) -> list[object]:
    """What ``server`` answers on ``path``, in raw_app.py's spec format."""
    status, headers, body = servers.fetch(server.port, path)
    kept = [[name, value] for name, value in headers if name not in SERVER_HEADERS]
    return [status, kept, base64.b64encode(body).decode()]


class Fleet:
    """Every server of the comparison; ``stop`` ends them all."""

    def __init__(self, work: Path, logs: Path, *, pure: bool) -> None:
        self.work, self.logs = work, logs
        self.running: list[servers.ServerProcess] = []
        try:
            self._start(pure)
        except BaseException:
            self.stop()
            raise

    def _add(self, server: servers.ServerProcess) -> servers.ServerProcess:
        self.running.append(server)
        return server

    def _start(self, pure: bool) -> None:
        basic, catalog = sites.basic_site(self.work), sites.catalog_site(self.work)
        # label -> (server of examples/basic, server of the catalog site)
        self.perseus: dict[str, tuple[servers.ServerProcess, servers.ServerProcess]] = {}
        for label, pure_build in [("perseus", False)] + ([("perseus pure", True)] if pure else []):
            self.perseus[label] = (
                self._add(servers.perseus_server(label, basic, self.logs, pure=pure_build, ready_path=POST)),
                self._add(servers.perseus_server(f"{label} big", catalog, self.logs, pure=pure_build,
                                                 ready_path=CATALOG)))
        small, big = self.perseus["perseus"]
        spec = {"routes": {POST: answer_of(small, POST), POST_JSON: answer_of(small, POST_JSON),
                           CATALOG: answer_of(big, CATALOG)},
                "missing": answer_of(small, MISSING)}
        spec_file = self.work / "raw-spec.json"
        spec_file.write_text(json.dumps(spec))
        self.raw = self._add(servers.raw_server(spec_file, self.logs, ready_path=POST))

        static, templates = self.work / "static", self.work / "templates"
        static.mkdir()
        files = {"page.html": POST, "big.html": CATALOG, "page.json": POST_JSON}
        self.bodies = {name: base64.b64decode(str(spec["routes"][path][2])) for name, path in files.items()}
        for name, body in self.bodies.items():
            (static / name).write_bytes(body)
        sites.write_template(templates, "page", *sites.jinja_of_post(self.bodies["page.html"].decode()))
        sites.write_template(templates, "big", *sites.jinja_of_catalog(self.bodies["big.html"].decode()))
        self.starlette = self._add(servers.starlette_server(static, templates, self.logs,
                                                            ready_path="/static/page.html"))

    def _contenders(self, path: str, status: int, static_path: str, jinja_path: str | None = None,
                    big_site: bool = False) -> list[Contender]:
        found = [Contender(self.raw, path, RAW_LABEL, status)]
        for label, (small_server, big_server) in self.perseus.items():
            found.append(Contender(big_server if big_site else small_server, path, label, status))
        found.append(Contender(self.starlette, static_path, "Starlette StaticFiles", status))
        if jinja_path:
            found.append(Contender(self.starlette, jinja_path, "Starlette + Jinja2 render", status))
        return found

    def cases(self) -> list[Case]:
        """The four cases, each checked: every contender answers the expected status and bytes."""
        page, big = len(self.bodies["page.html"]), len(self.bodies["big.html"])
        cases = [
            Case(f"page {page:,} B", self._contenders(POST, 200, "/static/page.html", "/jinja/page")),
            Case(f"page {big:,} B", self._contenders(CATALOG, 200, "/static/big.html", "/jinja/big", True)),
            Case("JSON endpoint", self._contenders(POST_JSON, 200, "/static/page.json")),
            Case("404", self._contenders(MISSING, 404, "/static/no-such-page.html")),
        ]
        for case in cases:
            _check(case)
        return cases

    def stop(self) -> None:
        for server in self.running:
            server.stop()


def _check(case: Case) -> None:
    expected: bytes | None = None
    for contender in case.contenders:
        status, _, body = servers.fetch(contender.server.port, contender.path)
        if status != contender.status:
            raise RuntimeError(f"{contender.label} answered {status} on {contender.path}, "
                               f"not {contender.status}")
        expected = body if expected is None else expected
        if status == 200 and body != expected:
            print(f"warning: {contender.label} on {contender.path} differs from raw granian's body "
                  f"({len(body)} against {len(expected)} bytes)", file=sys.stderr)


def select(cases: list[Case], text: str | None) -> list[Case]:
    """The cases named with ``text``, or every case with only the servers named with it."""
    if not text:
        return cases
    named = [case for case in cases if text.lower() in case.name.lower()]
    if named:
        return named
    kept = [Case(case.name, [case.contenders[0]] + [k for k in case.contenders[1:] if text in k.label])
            for case in cases]
    if all(len(case.contenders) == 1 for case in kept):
        raise SystemExit(f"--only {text!r} names no case and no server")
    return kept


def measure(cases: list[Case], *, rounds: int, seconds: float, warmup: float,
            connections: int) -> list[report.Series]:
    """Warm each pair up, then run every pair once per round, rotating who goes first."""
    table = {(c.name, k.label): report.Series(c.name, k.label, i == 0)
             for c in cases for i, k in enumerate(c.contenders)}
    for round_number in range(rounds):
        for case in cases:
            shift = round_number % len(case.contenders)
            for contender in case.contenders[shift:] + case.contenders[:shift]:
                url = contender.server.url(contender.path)
                if round_number == 0 and warmup > 0:
                    wrk.run_wrk(url, warmup, connections=connections)
                before = contender.server.cpu_seconds()
                result = wrk.run_wrk(url, seconds, connections=connections)
                cpu = contender.server.cpu_seconds() - before
                series = table[(case.name, contender.label)]
                series.rps.append(result.requests_per_second)
                series.cpu_us.append(cpu / max(result.requests, 1) * 1e6)
                if result.socket_errors:
                    series.problems.add("socket errors")
                if contender.status == 200 and result.non_2xx_3xx:
                    series.problems.add("non-2xx answers")
                print(f"  round {round_number + 1} {case.name:<14} {contender.label:<42} "
                      f"{result.requests_per_second:>9,.0f} req/s {series.cpu_us[-1]:6.1f} µs/req",
                      flush=True)
    return list(table.values())
