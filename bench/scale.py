"""Scale: build time of a many-page site, and start-up time and memory serving it."""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path

import report
import servers
import sites


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


def _raw_baseline(work: Path, logs: Path) -> tuple[float, int, int]:
    """Start-up seconds, RSS and PSS of a raw granian app with one page, to compare with."""
    spec_file = work / "raw-scale-spec.json"
    body = base64.b64encode(b"<h1>Page 0</h1>").decode()
    spec_file.write_text(json.dumps({"routes": {"/item/0": [200, [], body]}, "missing": [404, [], ""]}))
    raw = servers.raw_server(spec_file, logs, ready_path="/item/0")
    try:
        return raw.ready_at - raw.started_at, raw.rss_bytes(), raw.pss_bytes()
    finally:
        raw.stop()


def measure(work: Path, logs: Path, *, pages: int, pure: bool) -> list[report.ScaleRow]:
    """Build ``pages`` build-state pages, then serve them from a fresh server per build variant."""
    site = sites.scale_site(work, pages)
    build_seconds = sites.build(site)
    raw_start, raw_rss, raw_pss = _raw_baseline(work, logs)
    rows = [report.ScaleRow(f"`perseus build` of {pages:,} build-state pages (wall, s)",
                            f"{build_seconds:.2f}", target="< 10 s for 10,000")]
    for suffix, pure_build in [("", False)] + ([(" (pure)", True)] if pure else []):
        server = servers.perseus_server(f"perseus scale{suffix}", site, logs, pure=pure_build,
                                        ready_path="/item/0")
        try:
            start = server.ready_at - server.started_at
            fetch_all(server.port, [f"/item/{i}" for i in range(pages)])
            rss, pss = server.rss_bytes(), server.pss_bytes()
        finally:
            server.stop()
        rows.append(report.ScaleRow(f"process start → first 200, {pages:,}-page site{suffix} (s)",
                                    f"{start:.3f}", f"{raw_start:.3f}", f"{start / raw_start:.2f}",
                                    "≤ 0.5 s"))
        rows.append(report.ScaleRow(f"RSS of the process tree after GET of all {pages:,} pages{suffix} (MiB)",
                                    f"{rss / report.MIB:.1f}", f"{raw_rss / report.MIB:.1f}",
                                    f"{rss / raw_rss:.2f}", "< 100 MiB"))
        rows.append(report.ScaleRow(f"PSS of the same tree (shared pages counted once){suffix} (MiB)",
                                    f"{pss / report.MIB:.1f}", f"{raw_pss / report.MIB:.1f}",
                                    f"{pss / raw_pss:.2f}"))
    return rows
