"""``/.perseus/health`` and ``/.perseus/ready`` (issue 11, item 3), through granian: 200s
with LMDB and with Redis, a bounded 503 with a JSON reason (and no store URL) while
Redis is stopped or frozen, ``no-store`` always, never in the access log."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, perseus
from tests.processes import wait_for
from tests.redis_server import RedisServer
from tests.sites import write_observed_site

PROBES = ["/.perseus/health", "/.perseus/ready"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("probed")
    write_observed_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def redis_site(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer) -> Iterator[Server]:
    project = tmp_path_factory.mktemp("probed-redis")
    write_observed_site(project)
    env = {"PERSEUS_STORE": redis.url, "PERSEUS_REDIS_TIMEOUT": "2"}
    perseus("build", cwd=project, env=env)
    server = Server(project, env=env)
    yield server
    server.close()


def test_health_and_ready_with_lmdb(site: Path) -> None:
    server = Server(site)
    try:
        health = server.get("/.perseus/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = server.get("/.perseus/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        for answer in (health, ready):
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["content-type"] == "application/json"
        assert server.client.head("/.perseus/health").status_code == 200
        assert server.get("/").status_code == 200
        wait_for(lambda: "GET / " in server.log.read_text(), 10, "the page in the access log")
    finally:
        server.close()
    log = server.log.read_text()
    assert not any(probe in log for probe in PROBES), log  # a load balancer asks every few seconds


def test_ready_with_redis_then_503_while_it_is_stopped(redis_site: Server, redis: RedisServer) -> None:
    assert redis_site.get("/.perseus/ready").status_code == 200
    redis.stop()
    try:
        ready = redis_site.get("/.perseus/ready")
        assert ready.status_code == 503
        assert ready.headers["cache-control"] == "no-store"
        assert ready.json()["status"] == "unavailable"
        assert "redis" in ready.json()["reason"]
        assert "127.0.0.1" not in ready.text and "redis://" not in ready.text  # never the store's URL
        assert redis_site.get("/.perseus/health").status_code == 200  # the worker itself runs
        assert redis_site.get("/").status_code == 200
    finally:
        redis.start()
    wait_for(lambda: redis_site.get("/.perseus/ready").status_code == 200, 15, "ready again")


def test_a_frozen_redis_makes_ready_answer_503_at_once(redis_site: Server, redis: RedisServer) -> None:
    assert redis_site.get("/.perseus/ready").status_code == 200
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)
    try:
        # The client gives up after 10 s; the probe answers within its own bound instead.
        ready = redis_site.get("/.perseus/ready")
        assert ready.status_code == 503
        assert "did not answer" in ready.json()["reason"]
    finally:
        redis.process.send_signal(signal.SIGCONT)
    wait_for(lambda: redis_site.get("/.perseus/ready").status_code == 200, 15, "ready again")
