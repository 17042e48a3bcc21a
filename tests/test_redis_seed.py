"""The build seeds its revalidating pages into Redis (never over a newer version) and the local LMDB."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from perseus.stores.lmdb_store import open_lmdb
from perseus.stores.records import PageRecords, PageVersion, decode_record, encode_record, page_key
from perseus.stores.redis_store import RedisStore
from perseus.stores.tiered import TieredStore, seed_shared
from tests.conftest import Server, copy_example, free_port, perseus
from tests.redis_server import RedisServer
from tests.strategies import ENV, generations, version_of, wait_for_new_version

SEEDED = 100.0  # the seed's generation time, in build "b2"


def version(build: str, generated_at: float, generation: str = "g") -> PageVersion:
    return PageVersion("news", "xx-XX", "news", build, generation, generated_at, generated_at + 60,
                       b"<p>" + generation.encode(), b"{}", b"null", '"h"', '"j"', [])


@pytest.fixture(params=["redis_server", "redis_cluster"])
def remote(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    server = request.getfixturevalue(request.param)
    server.flush()
    store = RedisStore(server.url)
    yield store
    store.close()


@pytest.mark.parametrize(("there", "seeded"), [
    (None, True),
    (version("b1", 500.0, "older build, regenerated later"), True),  # the build decides, not the clock
    (version("b2", 50.0, "same build, generated before"), True),
    (version("b2", SEEDED, "same build and time: marked by perseus revalidate"), False),
    (version("b2", 150.0, "same build, regenerated since"), False),
    (version("b3", 10.0, "later build"), False),
    (b"garbage" * 10, True),
    (b"PSR\x09" + bytes(40), True),  # another record format
])
def test_a_seed_never_replaces_a_newer_version(remote: RedisStore, tmp_path: Path,
                                               there: PageVersion | bytes | None, seeded: bool) -> None:
    key = page_key("xx-XX", "news")
    if there is not None:
        remote.write(key, there if isinstance(there, bytes) else encode_record(there))
    seed = version("b2", SEEDED, "the seed")
    local = open_lmdb(tmp_path / "local")
    try:
        assert seed_shared(local, remote, [seed]) == int(seeded)
        expected = seed if seeded else there
        assert isinstance(expected, PageVersion)
        assert decode_record(remote.read(key)) == expected
        assert decode_record(local.read(key)) == expected  # the local cache holds what Redis holds
        assert remote.count() == 1
    finally:
        local.close()


def test_a_seed_replaces_other_machines_older_copies(remote: RedisStore, tmp_path: Path) -> None:
    other = TieredStore(open_lmdb(tmp_path / "other"), RedisStore(remote.url))
    other.start()
    try:
        assert other.subscribed.wait(10)
        records = PageRecords(other, "b1")
        records.put(version("b1", 10.0, "old"))
        local = open_lmdb(tmp_path / "builder")
        try:
            seed_shared(local, remote, [version("b2", SEEDED, "new")])
        finally:
            local.close()
        new = PageRecords(other, "b2")
        deadline = time.monotonic() + 5
        while (found := new.get("xx-XX", "news")) is None:  # its old copy is dropped on the announcement
            assert time.monotonic() < deadline, "the other machine kept its old copy"
            time.sleep(0.02)
        assert found.generation == "new"
    finally:
        other.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RedisServer]]:
    """examples/strategies built with ``PERSEUS_STORE`` naming a Redis of its own (never flushed)."""
    redis = RedisServer(tmp_path_factory.mktemp("redis-seed"))
    try:
        project = copy_example("strategies", tmp_path_factory.mktemp("strategies-seeded"))
        perseus("build", cwd=project, env={**ENV, "PERSEUS_STORE": redis.url})
        yield project, redis
    finally:
        redis.stop()


def test_the_build_seeds_its_revalidating_pages_into_redis(seeded: tuple[Path, RedisServer]) -> None:
    site, redis = seeded
    build_id = orjson.loads((site / "dist" / "manifest.json").read_bytes())["build_id"]
    remote = RedisStore(redis.url)
    try:
        seeded = sorted(v.path for _, value in remote.items() if (v := decode_record(value)) is not None
                        and v.build_id == build_id)
        assert seeded == ["clock", "flaky", "news", "post/a", "slow"]
        assert remote.count() == 5
    finally:
        remote.close()


@contextmanager
def watching(redis: RedisServer) -> Iterator[Callable[[], bytes]]:
    """What Redis is asked meanwhile (``MONITOR``): a function giving every command seen."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=2) as monitor:
        monitor.sendall(b"MONITOR\r\n")
        assert monitor.recv(5) == b"+OK\r\n"
        seen = bytearray()
        yield lambda: bytes(seen)
        monitor.sendall(b"PING\r\n")  # answered after everything asked before it
        while b"+PONG" not in seen:
            seen += monitor.recv(1 << 16)


def test_a_seeded_page_is_served_without_a_network_trip_and_can_be_marked(
    seeded: tuple[Path, RedisServer]
) -> None:
    site, redis = seeded
    env = {**ENV, "PERSEUS_STORE": redis.url}
    server = Server(site, env=env)
    try:
        with watching(redis) as seen:
            page = server.get("/post/a")  # seeded, and not due
        assert page.status_code == 200
        assert version_of(page) == generations(site, "post", "a")[0]  # the build's version
        assert b"perseus:page:" not in seen(), seen()  # served from this machine's LMDB
        built = version_of(server.get("/news"))
        marked = perseus("revalidate", "/news", cwd=site, env=env)
        assert "marked /news" in marked.stdout
        assert version_of(server.get("/news")) == built  # due now: answered stale once, then regenerated
        assert wait_for_new_version(server, "/news", built) == generations(site, "news")[1]
    finally:
        server.close()


def test_a_build_that_cannot_seed_redis_fails_and_keeps_the_previous_build(
    seeded: tuple[Path, RedisServer]
) -> None:
    site, _ = seeded
    before = (site / "dist" / "manifest.json").read_bytes()
    port = free_port()
    result = perseus("build", cwd=site, check=False,
                     env={**ENV, "PERSEUS_STORE": f"redis://:s3cret@127.0.0.1:{port}/0"})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"redis://127.0.0.1:{port}/0" in output and "build without PERSEUS_STORE" in output
    assert "s3cret" not in output and "Traceback" not in output
    assert (site / "dist" / "manifest.json").read_bytes() == before
