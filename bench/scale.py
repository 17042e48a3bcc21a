"""Scale: build time of a many-page site, and start-up time and memory serving it."""

from __future__ import annotations

import base64
import http.client
import json
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path

import report
import servers
import sites

STARTS = 3


def fetch_all(port: int, paths: list[str]) -> None:
    """Request every path once over one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for path in paths:
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"GET {path} answered {answer.status}")
    finally:
        connection.close()


def _started(start: Callable[[], servers.ServerProcess]) -> tuple[float, servers.ServerProcess]:
    """Median seconds from process start to first 200 over STARTS starts; the last one keeps running."""
    seconds = []
    for attempt in range(STARTS):
        server = start()
        seconds.append(server.ready_at - server.started_at)
        if attempt < STARTS - 1:
            server.stop()
    return statistics.median(seconds), server


def _raw_baseline(work: Path, logs: Path) -> tuple[float, int, int]:
    """Start-up seconds, RSS and PSS of a raw granian app with one page, to compare with."""
    spec_file = work / "raw-scale-spec.json"
    body = base64.b64encode(b"<h1>Page 0</h1>").decode()
    spec_file.write_text(json.dumps({"routes": {"/item/0": [200, [], body]}, "missing": [404, [], ""]}))
    seconds, raw = _started(lambda: servers.raw_server(spec_file, logs, ready_path="/item/0"))
    try:
        return seconds, raw.rss_bytes(), raw.pss_bytes()
    finally:
        raw.stop()


def measure(work: Path, logs: Path, *, pages: int, pure: bool) -> list[report.Row]:
    """Build ``pages`` build-state pages, then serve them from a fresh server per build variant."""
    site = sites.scale_site(work, pages)
    build_seconds = sites.build(site)
    raw_start, raw_rss, raw_pss = _raw_baseline(work, logs)
    raw = "raw granian RSGI (one page)"
    starts = [report.Row(f"start → first 200, {pages:,} pages (median of {STARTS})", raw,
                         f"{raw_start:.3f} s", "1.000")]
    rss_rows = [report.Row(f"RSS of the process tree after GET of all {pages:,} pages", raw,
                           f"{raw_rss / report.MIB:.1f} MiB", "1.000")]
    pss_rows = [report.Row("PSS of the same tree (pages shared after fork counted once)", raw,
                           f"{raw_pss / report.MIB:.1f} MiB", "1.000")]
    for label, pure_build in [("perseus", False)] + ([("perseus pure", True)] if pure else []):
        start, server = _started(partial(servers.perseus_server, f"{label} scale", site, logs,
                                         pure=pure_build, ready_path="/item/0"))
        try:
            fetch_all(server.port, [f"/item/{i}" for i in range(pages)])
            rss, pss = server.rss_bytes(), server.pss_bytes()
        finally:
            server.stop()
        starts.append(report.Row(starts[0].case, label, f"{start:.3f} s", report.ratio(start, raw_start)))
        rss_rows.append(report.Row(rss_rows[0].case, label, f"{rss / report.MIB:.1f} MiB",
                                   report.ratio(rss, raw_rss)))
        pss_rows.append(report.Row(pss_rows[0].case, label, f"{pss / report.MIB:.1f} MiB",
                                   report.ratio(pss, raw_pss)))
    build = report.Row(f"`perseus build` of {pages:,} build-state pages", "perseus", f"{build_seconds:.2f} s")
    return [build, *starts, *rss_rows, *pss_rows]
