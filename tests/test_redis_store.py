"""The Redis store behind this machine's LMDB: invalidations between machines, outages, configuration,
on a single Redis server and on a Redis Cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from perseus.errors import ConfigurationError, StoreError, StoreNotFound
from perseus.settings import Settings, load_settings
from perseus.stores.configured import open_mutable_store
from perseus.stores.lmdb_store import open_lmdb
from perseus.stores.mutable import MutableStore
from perseus.stores.records import PageRecords, PageVersion, encode_record, page_key
from perseus.stores.redis_store import INVALIDATIONS, RedisStore, redacted
from perseus.stores.tiered import TieredStore
from tests.conftest import free_port
from tests.redis_server import RedisCluster, RedisServer


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


@pytest.fixture(params=["redis_server", "redis_cluster"])
def two_machines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TieredStore, TieredStore]]:
    """Two machines sharing a single Redis server, or a Redis Cluster."""
    server = request.getfixturevalue(request.param)
    server.flush()
    a, b = machine(server.url, tmp_path / "a"), machine(server.url, tmp_path / "b")
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


def test_a_machine_that_resubscribes_keeps_only_its_current_copies(
    two_machines: tuple[TieredStore, TieredStore]
) -> None:
    a, b = two_machines
    records_a = PageRecords(a, "b1")
    for path in ("kept", "changed", "deleted"):
        records_a.put(_version(path, "g1"))
        eventually(partial(_cached, b, page_key("xx-XX", path)))
    changed, deleted = page_key("xx-XX", "changed"), page_key("xx-XX", "deleted")
    b.remote.write(changed, encode_record(_version("changed", "g2")))  # behind b's back: not announced
    b.remote.delete(deleted)
    assert b.local.read_or_none(changed) is not None  # b cannot know yet
    b.subscribed.clear()
    _drop_subscribers(b)  # b reconnects, and cannot know what it missed
    eventually(lambda: b.subscribed.is_set(), timeout=10)  # resubscribed and resynchronised
    assert b.local.read_or_none(page_key("xx-XX", "kept")) is not None  # still current: no network trip
    assert b.local.read_or_none(changed) is None and b.local.read_or_none(deleted) is None
    version = PageRecords(b, "b1").get("xx-XX", "changed")
    assert version is not None and version.generation == "g2"


def _cached(store: TieredStore, key: bytes) -> bool:
    """Whether ``key`` is in the store's local LMDB after a read (which copies it there)."""
    store.read(key)
    return store.local.read_or_none(key) is not None


def _version(path: str, generation: str) -> PageVersion:
    return PageVersion(path, "xx-XX", "post", "b1", generation, 1.0, 0.0, b"<p>" + generation.encode(),
                       b"{}", b"null", '"h"', '"j"', [])


def _drop_subscribers(store: TieredStore) -> None:
    """Close every pub/sub connection of the store's Redis (each node of a cluster)."""
    client = store.remote.client
    if store.remote.cluster:
        client.client_kill_filter(_type="pubsub", target_nodes="primaries")
    else:
        client.client_kill_filter(_type="pubsub")


def test_the_url_says_whether_redis_is_a_cluster(redis_server: RedisServer, redis_cluster: RedisCluster,
                                                 tmp_path: Path) -> None:
    node = redis_cluster.url.replace("redis+cluster://", "redis://") + "/0"
    with pytest.raises(ConfigurationError, match=r"node of a Redis Cluster: use redis\+cluster://"):
        open_mutable_store(tmp_path / "m", load_settings(tmp_path, {"PERSEUS_STORE": node}))
    single = redis_server.url.replace("redis://", "redis+cluster://").removesuffix("/0")
    with pytest.raises(ConfigurationError, match="not a cluster: use redis://"):
        RedisStore(single)
    with pytest.raises(ConfigurationError, match="only database 0"):
        RedisStore(redis_cluster.url + "/3")
    unreachable = f"redis+cluster://:hunter2@127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match="cannot reach the Redis Cluster") as error:
        open_mutable_store(tmp_path / "m", load_settings(tmp_path, {"PERSEUS_STORE": unreachable}))
    assert "hunter2" not in str(error.value)


def test_a_frozen_cluster_costs_each_call_one_timeout(tmp_path: Path) -> None:
    cluster = RedisCluster(tmp_path)
    store = RedisStore(cluster.url, timeout=0.5)
    try:
        store.write(b"page", b"v1")
        for node in cluster.nodes:
            node.pause()
        for call in (lambda: store.read(b"page"), store.count, lambda: store.write(b"page", b"v2")):
            started = time.monotonic()
            with pytest.raises(StoreError):
                call()
            # NOTE: without the background layout refresh, 4 timeouts (the call, then each node).
            assert time.monotonic() - started < 1.5
        for node in cluster.nodes:
            node.resume()
        eventually(lambda: _answers(store))
        assert store.read(b"page") == b"v1" and store.count() == 1
    finally:
        store.close()
        cluster.stop()


def _answers(store: RedisStore) -> bool:
    try:
        store.ping()
    except StoreError:
        return False
    return True


def test_invalidations_reach_other_machines_after_a_cluster_node_is_lost(tmp_path: Path) -> None:
    # Without full coverage the surviving masters keep serving their slots.
    cluster = RedisCluster(tmp_path / "cluster", ("--cluster-require-full-coverage", "no"))
    writer = TieredStore(open_lmdb(tmp_path / "a"), RedisStore(cluster.url, timeout=1))  # never listens
    reader = None
    try:
        reader = machine(cluster.url, tmp_path / "b")
        keys = [f"page-{i}".encode() for i in range(12)]
        for key in keys:
            writer.write(key, b"v1")
            eventually(partial(_cached, reader, key))
        # The reader's subscriber is the only one: lose its node.
        lost = next(node for node in cluster.nodes
                    if b"\r\n:1\r\n" in node.command("PUBSUB", "NUMSUB", INVALIDATIONS.decode()))
        lost.stop()
        written = []
        for key in keys:
            try:
                writer.write(key, b"v2")
                written.append(key)
            except StoreError:
                pass  # a page on the lost node
        assert 0 < len(written) < len(keys)
        for key in written:  # the reader hears of it through another master, and reads v2
            eventually(partial(_reads, reader, key, b"v2"), timeout=15)
    finally:
        writer.close()
        if reader is not None:
            reader.close()
        cluster.stop()


def _reads(store: TieredStore, key: bytes, value: bytes) -> bool:
    return store.read(key) == value
