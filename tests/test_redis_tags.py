"""Revalidation by tag across machines: two `perseus serve` (each with its own LMDB) sharing one
Redis, which holds the pages and the tag index; a tag marked on one is regenerated on the other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, perseus
from tests.redis_server import RedisServer
from tests.strategies import version_of
from tests.tagged_site import AUTH, ROUTE, TOKEN, generations, write_tagged_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer) -> Path:
    project = write_tagged_site(tmp_path_factory.mktemp("redis-tags") / "site")
    perseus("build", cwd=project, env={"PERSEUS_STORE": redis.url})  # seeds Redis, tags and all
    return project


def machine(site: Path, redis: RedisServer, name: str) -> dict[str, str]:
    return {"PERSEUS_STORE": redis.url, "PERSEUS_MUTABLE_DIR": str(site / name),
            "PERSEUS_REVALIDATE_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def machines(site: Path, redis: RedisServer) -> Iterator[tuple[Server, Server]]:
    a = Server(site, env=machine(site, redis, "machine-a"))
    try:
        b = Server(site, env=machine(site, redis, "machine-b"))
    except BaseException:
        a.close()
        raise
    yield a, b
    a.close()
    b.close()


def new_version(server: Server, path: str, old: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while (current := version_of(server.get(path))) == old:
        assert time.monotonic() < deadline, f"{path} still {old}:\n{server.log.read_text()}"
        time.sleep(0.05)
    return current


def test_a_tag_revalidated_on_one_machine_is_regenerated_on_the_other(machines: tuple[Server, Server],
                                                                       site: Path) -> None:
    a, b = machines
    old = version_of(b.get("/post/2"))  # B has the build's version, from its own LMDB
    assert version_of(a.get("/post/2")) == old
    before = generations(site, "2")
    answer = a.client.post(ROUTE, json={"tags": ["post:2"]}, headers=AUTH)  # the webhook reaches A
    assert answer.status_code == 200 and answer.json()["marked"] == ["/post/2"]
    assert version_of(b.get("/post/2")) == old  # B learnt of the mark: stale once ...
    new = new_version(b, "/post/2", old)  # ... then regenerated (by B, which was asked)
    assert new_version(a, "/post/2", old) == new  # and A serves B's new version
    assert generations(site, "2") == before + 1


def test_pages_generated_on_one_machine_are_found_by_tag_from_another(machines: tuple[Server, Server],
                                                                      site: Path, redis: RedisServer) -> None:
    a, b = machines
    slug = f"new-{time.monotonic_ns()}"
    old = version_of(a.get(f"/post/{slug}"))  # generated on A, tagged post:<slug> and author:guest
    assert version_of(b.get(f"/post/{slug}")) == old
    marked = perseus("revalidate", "--tag", "author:guest", cwd=site, env=machine(site, redis, "machine-b"))
    assert f"marked /post/{slug}" in marked.stdout  # the CLI on machine B, through Redis's index
    b.get(f"/post/{slug}")
    assert new_version(a, f"/post/{slug}", old) == new_version(b, f"/post/{slug}", old)
