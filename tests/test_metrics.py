"""``/.perseus/metrics`` (issue 11, item 4), through granian with two workers: counts summed
over the workers, the latency histogram, generations, stored pages, counts that survive
a worker killed and respawned; 404 without PERSEUS_METRICS."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perseus.testing import TestClient
from tests.conftest import Server, perseus
from tests.processes import children, wait_for
from tests.sites import write_observed_site

N = 40
SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("measured")
    write_observed_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    running = Server(site, workers=2, env={"PERSEUS_METRICS": "1"})
    yield running
    running.close()


def samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = server.get("/.perseus/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["cache-control"] == "no-store"
    found = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, line
            name, labels, value = match.groups()
            pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels or ""))
            found[name, pairs] = float(value)
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, pairs), v in found.items() if n == name and wanted <= pairs)


def built_requests(server: Server) -> float:
    return value(samples(server), "perseus_requests_total", strategy="built", status="200")


def fresh_get(server: Server, path: str) -> httpx.Response:
    """On a connection of its own, so that either worker may take it."""
    return httpx.get(server.url + path, headers={"connection": "close"}, timeout=10)


def test_counts_add_up_over_both_workers(server: Server) -> None:
    before = built_requests(server)
    workers: set[str] = set()
    sent = 0
    while sent < N or len(workers) < 2:
        answer = fresh_get(server, "/")
        assert answer.status_code == 200
        sent += 1
        assert sent < 400, "one worker took every connection"
        workers.add(_worker_of(server, sent))
    found = samples(server)
    assert value(found, "perseus_requests_total", strategy="built", status="200") - before == sent
    assert value(found, "perseus_workers") == 2
    # The histogram: buckets, a count per strategy, +Inf holding every request.
    assert value(found, "perseus_request_duration_seconds_bucket", strategy="built", le="+Inf") == \
        value(found, "perseus_request_duration_seconds_count", strategy="built") >= sent
    assert value(found, "perseus_request_duration_seconds_bucket", strategy="built", le="0.1") > 0


def _worker_of(server: Server, count: int) -> str:
    """The worker that answered the latest request of /, from the access log."""
    lines: list[str] = []

    def written() -> bool:
        lines[:] = [line for line in server.log.read_text().splitlines() if " GET / " in line]
        return len(lines) >= count

    wait_for(written, 10, "the access log line")
    return lines[-1].split()[3]


def test_404_500_generations_and_stored_pages(server: Server) -> None:
    before = samples(server)
    assert fresh_get(server, "/nope").status_code == 404
    assert fresh_get(server, "/boom").status_code == 500
    assert fresh_get(server, "/post/measured").status_code == 200  # generated on this request
    found = samples(server)

    def grew(name: str, **labels: str) -> float:
        return value(found, name, **labels) - value(before, name, **labels)

    assert grew("perseus_requests_total", status="404", strategy="none") == 1
    assert grew("perseus_requests_total", status="500", strategy="request_state") == 1
    assert grew("perseus_requests_total", strategy="incremental") == 1
    assert grew("perseus_generations_total", kind="generation", outcome="ok") == 1
    assert value(found, "perseus_generation_duration_seconds_count", kind="generation") >= 1
    assert value(found, "perseus_stored_pages") >= 2  # the built 'post/a' and the one generated
    for name in ("perseus_overloaded_total", "perseus_request_timeouts_total", "perseus_store_errors_total"):
        assert (name, frozenset()) in found


def test_counts_survive_a_worker_killed_and_respawned(server: Server) -> None:
    for _ in range(5):
        assert fresh_get(server, "/").status_code == 200
    before = built_requests(server)
    workers = children(server.process.pid)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(children(server.process.pid) - {victim}) == 2, 20, "granian respawning the worker")
    # The new worker counts once it has opened its site; the dead one no longer does (else 3).
    wait_for(lambda: value(samples(server), "perseus_workers") == 2, 20, "two live workers counted")
    assert built_requests(server) >= before  # the dead worker's answers are still counted


def test_no_metrics_unless_asked_for(site: Path) -> None:
    with TestClient(site) as client:
        assert client.get("/.perseus/metrics").status_code == 404


def test_the_metrics_directory_is_the_servers_own(site: Path, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    server = Server(site, env={"PERSEUS_METRICS": "1", "TMPDIR": str(temporary)})
    try:
        assert fresh_get(server, "/").status_code == 200
        made = list(temporary.glob("perseus-metrics-*"))
        assert len(made) == 1 and list(made[0].glob("*.db"))
    finally:
        server.close()
    assert not list(temporary.glob("perseus-metrics-*"))  # removed at stop
    named = tmp_path / "metrics"
    named.mkdir()
    (named / "counter_1.db").write_bytes(b"left by an earlier server")
    server = Server(site, env={"PERSEUS_METRICS": "1", "PERSEUS_METRICS_DIR": str(named)})
    try:
        assert not (named / "counter_1.db").exists()  # emptied at start
        assert built_requests(server) == 0
        assert fresh_get(server, "/").status_code == 200
        assert built_requests(server) == 1
    finally:
        server.close()
