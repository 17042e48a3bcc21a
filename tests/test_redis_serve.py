"""Two `perseus serve` processes (two machines, each with its own local LMDB) sharing one Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, copy_example, free_port, perseus, run_in_thread
from tests.redis_server import RedisServer
from tests.strategies import ENV, generations, version_of


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example("strategies", tmp_path_factory.mktemp("strategies-redis"))
    perseus("build", cwd=project, env=ENV)
    return project


@pytest.fixture(scope="module")
def machines(site: Path, redis: RedisServer) -> Iterator[tuple[Server, Server]]:
    def env(name: str) -> dict[str, str]:
        return {**ENV, "PERSEUS_STORE": redis.url, "PERSEUS_MUTABLE_DIR": str(site / name)}

    a = Server(site, workers=2, env=env("machine-a"))
    try:
        b = Server(site, env=env("machine-b"))
    except BaseException:
        a.close()
        raise
    yield a, b
    a.close()
    b.close()


def poll(server: Server, path: str, until: object, timeout: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = server.get(path)
        if until(response):  # type: ignore[operator]
            return response
        assert time.monotonic() < deadline, f"{path}: {response.status_code}\n{server.log.read_text()}"
        time.sleep(0.05)


def test_a_page_generated_on_one_machine_is_served_by_the_other(machines: tuple[Server, Server],
                                                                 site: Path) -> None:
    a, b = machines
    slug = uuid.uuid4().hex
    first = a.get(f"/post/{slug}")
    assert first.status_code == 200
    assert version_of(b.get(f"/post/{slug}")) == version_of(first)
    assert version_of(b.get(f"/post/{slug}")) == version_of(first)  # now from B's own LMDB
    assert len(generations(site, "post", slug)) == 1


def test_a_revalidation_on_one_machine_reaches_the_others_cache(machines: tuple[Server, Server],
                                                                 site: Path) -> None:
    a, b = machines
    slug = uuid.uuid4().hex
    old = version_of(a.get(f"/post/{slug}"))
    assert version_of(b.get(f"/post/{slug}")) == old  # B caches it locally
    (site / "data" / f"{slug}.stale").touch()  # the CMS changed the post: A regenerates it
    new = version_of(poll(a, f"/post/{slug}", lambda r: version_of(r) != old))
    # B learns of it through the invalidation only: the flag is consumed, B regenerates nothing.
    assert version_of(poll(b, f"/post/{slug}", lambda r: version_of(r) != old)) == new
    assert generations(site, "post", slug) == [old, new]


def test_first_requests_split_across_machines_generate_once(machines: tuple[Server, Server],
                                                             site: Path) -> None:
    a, b = machines
    slug = uuid.uuid4().hex

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=40, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=20, limits=limits) as client:
            urls = [f"{server.url}/post/{slug}" for server in (a, b) for _ in range(15)]
            return list(await asyncio.gather(*(client.get(url) for url in urls)))

    responses = run_in_thread(run)
    assert {r.status_code for r in responses} == {200}
    assert len({version_of(r) for r in responses}) == 1
    assert len(generations(site, "post", slug)) == 1


def test_redis_going_away_keeps_cached_pages_serves_new_ones_unkept_and_recovers(
    machines: tuple[Server, Server], redis: RedisServer, site: Path
) -> None:
    a, b = machines
    cached = uuid.uuid4().hex
    kept = version_of(a.get(f"/post/{cached}"))
    assert version_of(b.get(f"/post/{cached}")) == kept
    redis.stop()
    try:
        for server in (a, b):
            assert version_of(server.get(f"/post/{cached}")) == kept  # no network trip needed
            assert server.get("/post/a").status_code == 200  # built pages need no store
            new = server.get(f"/post/{uuid.uuid4().hex}")  # httpx's 10 s timeout: never hangs
            assert new.status_code == 200  # generated and served, not kept (STORE-01)
            assert "Traceback" not in new.text and "redis" not in new.text.lower()
    finally:
        redis.start()
    again = uuid.uuid4().hex
    generated = poll(a, f"/post/{again}", lambda r: r.status_code == 200)
    assert version_of(poll(b, f"/post/{again}", lambda r: r.status_code == 200)) == version_of(generated)
    assert len(generations(site, "post", again)) == 1


def test_serving_refuses_to_start_without_its_redis(site: Path) -> None:
    port = free_port()
    result = perseus("serve", "--no-build", "--port", str(free_port()), cwd=site, check=False, timeout=60,
                     env={"PERSEUS_STORE": f"redis://:s3cret@127.0.0.1:{port}/0"})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"redis://127.0.0.1:{port}/0" in output
    assert "s3cret" not in output and "Traceback" not in output


def test_perseus_revalidate_on_one_machine_reaches_every_machine(machines: tuple[Server, Server],
                                                                  site: Path, redis: RedisServer) -> None:
    a, b = machines
    slug = uuid.uuid4().hex
    old = version_of(a.get(f"/post/{slug}"))
    assert version_of(b.get(f"/post/{slug}")) == old  # B caches it locally
    env = {"PERSEUS_STORE": redis.url, "PERSEUS_MUTABLE_DIR": str(site / "machine-b")}
    marked = perseus("revalidate", f"/post/{slug}", cwd=site, env=env)  # run on machine B
    assert f"marked /post/{slug}" in marked.stdout
    assert version_of(a.get(f"/post/{slug}")) == old  # A learnt of the mark: stale once ...
    new = version_of(poll(a, f"/post/{slug}", lambda r: version_of(r) != old))  # ... then regenerated
    assert version_of(poll(b, f"/post/{slug}", lambda r: version_of(r) != old)) == new
    assert generations(site, "post", slug) == [old, new]
