"""The Redis store behind this machine's LMDB: invalidations between machines, outages, configuration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.errors import ConfigurationError, StoreError, StoreNotFound
from perseus.settings import Settings, load_settings
from perseus.stores.configured import open_mutable_store
from perseus.stores.lmdb_store import open_lmdb
from perseus.stores.mutable import MutableStore
from perseus.stores.redis_store import RedisStore, redacted
from perseus.stores.tiered import TieredStore
from tests.conftest import free_port
from tests.redis_server import RedisServer


def machine(url: str, directory: Path) -> TieredStore:
    """A tiered store as one machine has it: its own local LMDB, the shared Redis."""
    store = TieredStore(open_lmdb(directory), RedisStore(url, timeout=1))
    store.start()
    assert store.subscribed.wait(10)
    return store


def eventually(check: object, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time bound"
        time.sleep(0.02)


@pytest.fixture
def two_machines(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[TieredStore, TieredStore]]:
    redis_server.flush()
    a, b = machine(redis_server.url, tmp_path / "a"), machine(redis_server.url, tmp_path / "b")
    yield a, b
    a.close()
    b.close()


def test_a_write_on_one_machine_replaces_the_others_cached_copy(
    two_machines: tuple[TieredStore, TieredStore]
) -> None:
    a, b = two_machines
    a.write(b"page", b"v1")
    # A fill that crosses the announcement of v1 is dropped (it cannot tell v1 from older).
    eventually(lambda: b.read(b"page") == b"v1" and not _missing(b.local, b"page"))
    assert b.local.read(b"page") == b"v1"  # cached: the next read needs no network trip
    a.write(b"page", b"v2")
    eventually(lambda: b.read(b"page") == b"v2")
    a.delete(b"page")
    eventually(lambda: _missing(b, b"page"))


def _missing(store: MutableStore, key: bytes) -> bool:
    try:
        store.read(key)
    except StoreNotFound:
        return True
    return False


def test_a_machines_own_workers_keep_what_it_wrote(two_machines: tuple[TieredStore, TieredStore],
                                                    tmp_path: Path) -> None:
    a, _ = two_machines
    # A second worker of machine A: same local LMDB (same cache id), its own Redis client.
    worker = TieredStore(a.local, RedisStore(a.remote.url))
    assert worker.cache_id == a.cache_id
    a.write(b"page", b"v1")
    time.sleep(0.3)  # the announcement has come and gone
    assert a.local.read(b"page") == b"v1"
    worker.remote.close()


def test_a_fill_that_raced_an_invalidation_is_dropped(tmp_path: Path) -> None:
    local = open_lmdb(tmp_path / "m")
    try:
        epoch = local.cache_epoch()  # a reader starts copying v1 from Redis...
        local.invalidate([b"page"])  # ...another machine announces v2 meanwhile
        assert not local.fill(b"page", b"v1", epoch)
        with pytest.raises(StoreNotFound):
            local.read(b"page")
        assert local.fill(b"page", b"v2", local.cache_epoch())
        assert local.read(b"page") == b"v2"
    finally:
        local.close()


def test_cached_values_outlive_a_redis_outage_and_the_cache_is_dropped_on_return(tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path)
    a = b = None
    try:
        a, b = machine(redis_server.url, tmp_path / "a"), machine(redis_server.url, tmp_path / "b")
        a.write(b"cached", b"v1")
        assert b.read(b"cached") == b"v1"
        redis_server.stop()
        assert b.read(b"cached") == b"v1"  # served from the local LMDB
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"127.0.0.1:{redis_server.port}"):
            b.read(b"never-cached")
        with pytest.raises(StoreError):
            b.acquire_lease(b"lease", "1:x", 10, time.time())
        assert time.monotonic() - started < 10  # bounded, not hung
        eventually(lambda: not b.subscribed.is_set())
        redis_server.start()
        # Back (empty, no persistence): the subscriber cannot know what it missed.
        eventually(lambda: b.subscribed.is_set(), timeout=10)
        assert _missing(b, b"cached")
        a.write(b"cached", b"v2")
        assert b.read(b"cached") == b"v2"
    finally:
        for store in (a, b):
            if store is not None:
                store.close()
        redis_server.stop()


def test_store_configuration(tmp_path: Path) -> None:
    def settings(**environ: str) -> Settings:
        return load_settings(tmp_path, environ)

    assert settings().redis_url is None
    store = open_mutable_store(tmp_path / "m", settings(PERSEUS_STORE="lmdb"))
    assert not isinstance(store, TieredStore)
    store.close()
    with pytest.raises(ConfigurationError, match="redis://host:port/db") as error:
        settings(PERSEUS_STORE="memcached://secret@host/1")
    assert "secret" not in str(error.value)
    port = free_port()
    with pytest.raises(StoreError) as unreachable:
        open_mutable_store(tmp_path / "m", settings(PERSEUS_STORE=f"redis://user:hunter2@127.0.0.1:{port}/3"))
    assert f"redis://user@127.0.0.1:{port}/3" in str(unreachable.value)
    assert "hunter2" not in str(unreachable.value)
    assert redacted("redis://:pw@[::1]:6379/0") == "redis://[::1]:6379/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigurationError, match="PERSEUS_REDIS_TIMEOUT"):
        settings(PERSEUS_REDIS_TIMEOUT="soon")
