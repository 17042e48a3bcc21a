"""A Redis store that stops or freezes costs no answer that can still be given (issue 10,
items 1 and 3): new incremental pages are generated and served unkept, built and locally
cached pages never wait on Redis, and storing resumes by itself. examples/strategies on
granian with a real redis-server."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Server, copy_example, perseus
from tests.redis_server import RedisServer
from tests.strategies import ENV, version_of

REDIS_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer) -> Iterator[Server]:
    project = copy_example("strategies", tmp_path_factory.mktemp("strategies-outage"))
    env = {**ENV, "PERSEUS_STORE": redis.url, "PERSEUS_REDIS_TIMEOUT": str(REDIS_TIMEOUT),
           "STRATEGIES_GENERATION_DELAY": "0"}
    perseus("build", cwd=project, env=env)
    running = Server(project, env=env)
    yield running
    running.close()


def new_post() -> str:
    return f"/post/{uuid.uuid4().hex}"


def test_with_redis_stopped_new_pages_are_served_and_storing_resumes(server: Server,
                                                                     redis: RedisServer) -> None:
    cached = new_post()
    assert server.get(cached).status_code == 200  # stored in Redis and in this machine's LMDB
    redis.stop()
    try:
        answers = [server.get(path) for path in [new_post() for _ in range(30)]]
        assert [a.status_code for a in answers] == [200] * 30  # generated, served, not kept
        assert server.get(cached).status_code == 200
        assert server.get("/").status_code == 200
    finally:
        redis.start()
    log = server.log.read_text()
    assert log.count("storing resumes by itself") == 1, log  # once per interval, not per request
    assert "Traceback" not in log
    # Back, and empty: a new page is stored again (its second request is the same version).
    deadline = time.monotonic() + 10
    while True:
        path = new_post()
        first, again = version_of(server.get(path)), version_of(server.get(path))
        if first == again or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert first == again, server.log.read_text()


def test_a_frozen_redis_never_delays_built_or_locally_cached_pages(server: Server,
                                                                    redis: RedisServer) -> None:
    cached = new_post()
    assert server.get(cached).status_code == 200
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(4) as pool:
            # These need Redis: each waits up to the Redis timeout, in the store's threads.
            waiting = [pool.submit(server.get, new_post()) for _ in range(3)]
            time.sleep(0.2)
            with httpx.Client(base_url=server.url, timeout=10) as client:
                for path in ["/", cached, "/greet?name=Ann", cached]:
                    started = time.monotonic()
                    assert client.get(path).status_code == 200
                    # Well under the Redis timeout that a call on the event loop would cost.
                    assert time.monotonic() - started < REDIS_TIMEOUT / 2, path
            assert [f.result(timeout=REDIS_TIMEOUT * 4 + 10).status_code for f in waiting] == [200] * 3
    finally:
        redis.process.send_signal(signal.SIGCONT)
