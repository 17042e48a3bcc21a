"""One conformance suite for every ``MutableStore`` (LMDB, memory, Redis, Redis behind LMDB, both
against a single Redis server and against a Redis Cluster),
plus page-record framing and LMDB's failure modes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from perseus.errors import StoreError, StoreNotFound
from perseus.stores.lmdb_store import LMDBStore, open_lmdb
from perseus.stores.memory import MemoryStore
from perseus.stores.mutable import MutableStore, process_start_time
from perseus.stores.records import PageRecords, PageVersion, encode_record, page_key, tag_key
from perseus.stores.redis_store import RedisStore
from perseus.stores.tiered import TieredStore
from tests.redis_server import RedisServer

NOW = 1_000_000.0


@pytest.fixture(params=["lmdb", "memory", "redis", "tiered", "redis-cluster", "tiered-cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MutableStore]:
    opened: MutableStore
    if request.param == "lmdb":
        opened = open_lmdb(tmp_path / "mutable")
    elif request.param == "memory":
        opened = MemoryStore()
    else:
        server = request.getfixturevalue("redis_cluster" if "cluster" in request.param else "redis_server")
        server.flush()
        remote = RedisStore(server.url)
        if request.param.startswith("redis"):
            opened = remote
        else:
            tiered = TieredStore(open_lmdb(tmp_path / "mutable"), remote)
            tiered.start()
            assert tiered.subscribed.wait(10)
            opened = tiered
    yield opened
    opened.close()


def version(path: str, body: str = "hello", build: str = "b1", generation: str = "g1") -> PageVersion:
    html = f"<html>{body}</html>".encode()
    return PageVersion(path, "xx-XX", "post", build, generation, NOW, NOW + 60, html,
                       b'{"state":1}', b'{"n":1}', '"h"', '"j"', [("content-type", "text/html")])


def test_a_missing_key_is_store_not_found(store: MutableStore) -> None:
    with pytest.raises(StoreNotFound):
        store.read(b"nothing")
    store.delete(b"nothing")  # not an error
    assert store.count() == 0


def test_write_read_overwrite_delete(store: MutableStore) -> None:
    store.write(b"k", b"one")
    assert store.read(b"k") == b"one"
    store.write(b"k", b"two")
    assert store.read(b"k") == b"two"
    store.write(b"other", b"x" * 100_000)
    assert store.count() == 2
    assert dict(store.items()) == {b"k": b"two", b"other": b"x" * 100_000}
    store.delete(b"k")
    with pytest.raises(StoreNotFound):
        store.read(b"k")
    assert store.count() == 1


def test_a_lease_is_held_by_one_owner_until_released_or_expired(store: MutableStore) -> None:
    first = store.acquire_lease(b"page", "1:a", 10, NOW)
    assert first.acquired and first.expires_at == NOW + 10
    me = f"{os.getpid()}:b"
    taken = store.acquire_lease(b"page", me, 10, NOW + 1)
    # pid 1 exists on every Linux machine: the lease is live until it expires.
    assert not taken.acquired and taken.expires_at == NOW + 10
    assert store.acquire_lease(b"page", me, 10, NOW + 11).acquired  # expired: taken over
    store.release_lease(b"page", "1:a")  # not the holder: nothing happens
    assert not store.acquire_lease(b"page", "1:a", 10, NOW + 12).acquired
    store.release_lease(b"page", me)
    assert store.acquire_lease(b"page", "1:a", 10, NOW + 12).acquired
    assert store.count() == 0  # leases are not values


def test_a_lease_held_for_a_backoff_blocks_others(store: MutableStore) -> None:
    me = f"{os.getpid()}:x"
    assert store.acquire_lease(b"page", me, 5, NOW).acquired
    store.hold_lease(b"page", me, NOW + 30)
    held = store.acquire_lease(b"page", f"{os.getpid()}:y", 5, NOW + 10)
    assert not held.acquired and held.expires_at == NOW + 30


def test_a_dead_holders_lease_is_taken_over(store: MutableStore) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    assert store.acquire_lease(b"page", f"{dead.stdout.strip()}:gone", 3600, NOW).acquired
    assert store.acquire_lease(b"page", f"{os.getpid()}:me", 10, NOW + 1).acquired


def test_a_holder_whose_pid_now_names_another_process_is_dead(store: MutableStore) -> None:
    # Pids are reused within minutes on a busy machine: the start time tells the processes apart.
    parent = os.getppid()
    assert store.acquire_lease(b"page", f"{parent}:1:gone", 3600, NOW).acquired  # not the one started at 1
    assert store.acquire_lease(b"page", f"{os.getpid()}:0:me", 10, NOW + 1).acquired
    assert store.acquire_lease(b"other", f"{parent}:{process_start_time(parent)}:live", 3600, NOW).acquired
    assert not store.acquire_lease(b"other", f"{os.getpid()}:0:me", 10, NOW + 1).acquired


def test_a_holder_that_died_unreaped_is_dead(store: MutableStore) -> None:
    # A killed worker whose parent died too stays a zombie (for good in a container without
    # an init); here the test is the parent and does not reap it until the end.
    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_bytes().rpartition(b")")[2].split()[0] != b"Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        holder = f"{child.pid}:{process_start_time(child.pid)}:gone"
        assert store.acquire_lease(b"page", holder, 3600, NOW).acquired
        assert store.acquire_lease(b"page", f"{os.getpid()}:0:me", 10, NOW + 1).acquired
    finally:
        child.wait()


def test_page_records_round_trip_whole_versions(store: MutableStore) -> None:
    records = PageRecords(store, "b1")
    assert records.get("xx-XX", "post/a") is None
    records.put(version("post/a"))
    got = records.get("xx-XX", "post/a")
    assert got == version("post/a")
    records.put(version("post/a", body="second", generation="g2"))
    again = records.get("xx-XX", "post/a")
    assert again is not None and again.generation == "g2" and b"second" in again.html


def test_page_records_keep_each_compressed_copy(store: MutableStore) -> None:
    records = PageRecords(store, "b1")
    copies = (b"html in brotli", b"", b"json in brotli", b"json in gzip")  # empty: did not pay
    records.put(dataclasses.replace(version("post/a"), copies=copies))
    got = records.get("xx-XX", "post/a")
    assert got is not None and got.copies == copies
    assert got.forms[0][3] == (b"html in brotli", None) and got.forms[1][3] == copies[2:]


def test_page_records_see_another_workers_write_and_delete_on_the_next_read(store: MutableStore) -> None:
    reader, other_worker = PageRecords(store, "b1"), PageRecords(store, "b1")
    other_worker.put(version("post/a"))
    first = reader.get("xx-XX", "post/a")
    assert first is not None and first is reader.get("xx-XX", "post/a")  # decoded once, reused
    other_worker.put(version("post/a", body="newer", generation="g2"))
    newer = reader.get("xx-XX", "post/a")
    assert newer is not None and newer.generation == "g2" and b"newer" in newer.html
    other_worker.delete("xx-XX", "post/a")
    assert reader.get("xx-XX", "post/a") is None


def test_page_records_claim_a_page_once_then_store_it_and_let_go(store: MutableStore) -> None:
    # A first generation: "stored yet? else the lease", then "store it, release the lease".
    records, other_worker = PageRecords(store, "b1"), PageRecords(store, "b1")
    me, other = f"{os.getpid()}:me", f"{os.getpid()}:other"
    key = page_key("xx-XX", "post/a")
    found, lease = records.claim("xx-XX", "post/a", key, me, 30, NOW)
    assert found is None and lease.acquired
    found, lease = other_worker.claim("xx-XX", "post/a", key, other, 30, NOW)
    assert found is None and not lease.acquired  # single-flight: the other worker waits
    stored, released = records.put_releasing(version("post/a"), me, max_pages=100)
    if not released:
        store.release_lease(key, me)
    assert stored
    found, _ = other_worker.claim("xx-XX", "post/a", key, other, 30, NOW)
    assert found == version("post/a")  # ... and then finds the stored version
    assert store.acquire_lease(key, other, 30, NOW).acquired  # let go of
    store.release_lease(key, other)
    full_key = page_key("xx-XX", "post/b")
    assert records.claim("xx-XX", "post/b", full_key, me, 30, NOW)[1].acquired
    stored, released = records.put_releasing(version("post/b"), me, max_pages=1)
    if not released:
        store.release_lease(full_key, me)
    assert not stored and records.get("xx-XX", "post/b") is None  # the store is full: served, unkept
    assert store.acquire_lease(full_key, other, 30, NOW).acquired


def test_page_records_keep_decoded_versions_within_their_byte_bound(store: MutableStore) -> None:
    bound = 64 * 1024
    records = PageRecords(store, "b1", cache_bytes=bound)
    pages = [f"post/{i}" for i in range(40)]
    stored = {path: version(path, body="x" * (1000 + 97 * i)) for i, path in enumerate(pages)}
    for path in pages:  # 1 to 5 KB each: 40 pass the bound
        records.put(stored[path])
        assert records.get("xx-XX", path) is not None
        assert records.decoded.held_bytes <= bound
    assert records.decoded.held_bytes > bound - 6 * 1024  # it is filled, not emptied
    kept = len(records.decoded)
    assert 10 < kept < 40
    hot = records.get("xx-XX", pages[-kept])  # the oldest kept, now the most recently used
    for path in pages[:5]:  # dropped from memory, still in the store: decoded again, correctly
        again = records.get("xx-XX", path)
        assert again == stored[path]
        assert records.decoded.held_bytes <= bound
    assert hot is not None and records.get("xx-XX", hot.path) is hot  # kept: used recently
    huge = version("post/huge", body="y" * (2 * bound))
    records.put(huge)
    assert records.get("xx-XX", "post/huge") == huge  # served, never kept
    assert records.decoded.held_bytes <= bound


@pytest.mark.parametrize("path", ["p" * 600, "/".join(["deep"] * 800), "日本語/ünïcødé/" * 50])
def test_long_and_multibyte_paths_fit_hashed_keys(store: MutableStore, path: str) -> None:
    records = PageRecords(store, "b1")
    records.put(version(path))
    got = records.get("xx-XX", path)
    assert got is not None and got.path == path
    assert len(page_key("xx-XX", path)) <= 64


def test_damaged_foreign_and_misplaced_records_read_as_missing(store: MutableStore) -> None:
    records = PageRecords(store, "b1")
    key = page_key("xx-XX", "post/a")
    good = encode_record(version("post/a"))
    flipped = bytearray(good)
    flipped[-3] ^= 0xFF
    for damaged in (bytes(flipped), good[:-1], b"", b"PSR\x09" + good[4:], b"garbage" * 10):
        store.write(key, damaged)
        assert records.get("xx-XX", "post/a") is None
    store.write(key, encode_record(version("post/a", build="old-build")))
    assert records.get("xx-XX", "post/a") is None
    store.write(key, encode_record(version("post/b")))  # a record under another page's key
    assert records.get("xx-XX", "post/a") is None


def test_index_sets_add_list_and_remove_members(store: MutableStore) -> None:
    assert store.index_members(b"tag-a") == []
    store.index_add([b"tag-a", b"tag-b"], b"page-1")
    store.index_add([b"tag-a"], b"page-2")
    store.index_add([b"tag-a"], b"page-2")  # a member is in a set once
    store.index_add([b"tag-aa", b"tag"], b"page-3")  # names that start like another are other sets
    assert store.index_members(b"tag-a") == [b"page-1", b"page-2"]
    assert store.index_members(b"tag-b") == [b"page-1"]
    assert store.index_members(b"tag") == [b"page-3"]
    store.index_remove(b"tag-a", [b"page-1", b"never-there"])
    assert store.index_members(b"tag-a") == [b"page-2"]
    assert store.index_members(b"tag-b") == [b"page-1"]
    assert store.count() == 0  # index sets are not pages


def test_tagged_versions_keep_their_tags_and_are_indexed(store: MutableStore) -> None:
    records = PageRecords(store, "b1")
    tagged = replace(version("post/a"), tags=("post:1", "posts"))
    records.put(tagged)
    got = records.get("xx-XX", "post/a")
    assert got == tagged and got is not None and got.tags == ("post:1", "posts")
    key = page_key("xx-XX", "post/a")
    assert store.index_members(tag_key("post:1")) == [key] == store.index_members(tag_key("posts"))
    records.put(version("post/b"))  # untagged: in no set, and its record has no tags
    untagged = records.get("xx-XX", "post/b")
    assert untagged is not None and untagged.tags == ()
    assert store.index_members(tag_key("posts")) == [key]


def test_lmdb_grows_its_map_instead_of_failing(tmp_path: Path) -> None:
    store = LMDBStore(str(tmp_path / "tiny"), map_size=64 * 1024)
    try:
        for i in range(200):
            store.write(f"key{i}".encode(), os.urandom(4096))
        assert store.count() == 200
        assert len(store.read(b"key0")) == 4096
    finally:
        store.close()


def test_lmdb_opens_one_environment_per_path_and_process(tmp_path: Path) -> None:
    first = open_lmdb(tmp_path / "m")
    (tmp_path / "link").symlink_to(tmp_path / "m")
    assert open_lmdb(tmp_path / "link") is first
    first.close()


def test_lmdb_refuses_an_environment_inherited_through_fork(tmp_path: Path) -> None:
    store = open_lmdb(tmp_path / "m")
    store.write(b"k", b"v")
    pid = os.fork()
    if pid == 0:  # the child must not use the parent's environment
        try:
            store.read(b"k")
            code = 1
        except StoreError:
            code = 0
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    store.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_lmdb_read_only_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    writable = open_lmdb(tmp_path / "m")
    writable.write(b"k", b"v")
    writable.close()
    readonly = LMDBStore(str(tmp_path / "m"), readonly=True)
    try:
        assert readonly.read(b"k") == b"v"
        with pytest.raises(StoreError, match="read-only"):
            readonly.write(b"k", b"w")
    finally:
        readonly.close()


def test_a_store_says_whether_its_calls_wait_on_the_network(store: MutableStore) -> None:
    assert store.network is isinstance(store, (RedisStore, TieredStore))


def test_the_tiered_store_reads_its_local_copy_without_the_network(tmp_path: Path,
                                                                   redis_server: RedisServer) -> None:
    tiered = TieredStore(open_lmdb(tmp_path / "mutable"), RedisStore(redis_server.url))
    try:
        tiered.remote.write(b"k", b"remote only")
        assert tiered.read_local(b"k") is None  # not fetched: the remote copy stays remote
        assert tiered.read(b"k") == b"remote only"  # a read fills the local copy
        tiered.remote.delete(b"k")  # behind the cache's back: only a local read still finds it
        assert tiered.read_local(b"k") == b"remote only"
        assert tiered.read_local(b"other") is None
    finally:
        tiered.close()
