"""A ``MutableStore`` on Redis, shared by several machines: ``PERSEUS_STORE=redis://host:port/db``,
or ``redis+cluster://host:port`` for a Redis Cluster (any one node; the client finds the rest).

Values are the same records as in LMDB (same hashed keys, framing and checksum), under
``perseus:page:{<shard>}<key>``: the shard (a hash tag, one of ``SHARDS``) puts each page
in the cluster slot of its shard's page count ``perseus:count:{<shard>}``, which the
write and delete scripts keep (only a key that was new counts, only one that was there
uncounts), so ``count`` never scans. The counts assume nothing else deletes perseus's
keys: with an eviction policy other than ``noeviction`` they may count evicted pages.

An index set (the pages of a tag, see ``records``) is a Redis set
``perseus:index:{<shard>}<name>`` of store keys, its shard a hash tag as for pages: each
set is one key, so every command on it runs on one node; adding a page to several sets is
one pipeline (one round trip per node).

A lease is ``perseus:lease:<name>`` holding ``owner|expires_at|machine``: taken with
``SET NX PX``, taken over only by a compare-and-set, released or extended only by its
holder. The expiry in the value, compared with the caller's clock, decides; Redis's own
expiry only collects leases whose holder vanished. Each check and change is one Lua
script (``redis_scripts``) on one node.

This is the one module that imports redis-py (``pip install 'perseus-web[redis]'``). Every
command has a socket timeout and no retries: with Redis gone a call fails in bounded
time with ``StoreError`` instead of hanging the worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError, StoreError, StoreNotFound
from . import redis_scripts as scripts
from .mutable import Lease, holder_is_alive
from .records import HEADER_BYTES, RECORD_PREFIX

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException
    from redis.retry import Retry
except ImportError:  # pragma: no cover - depends on the installation
    raise ConfigurationError(
        "PERSEUS_STORE=redis://... needs the Redis client: pip install 'perseus-web[redis]'"
    ) from None

log = logging.getLogger("perseus.store")
RedisError = redis.RedisError
# Everything a call to Redis (or a Redis Cluster) may raise when the store is away or refuses.
FAILURES = (redis.RedisError, RedisClusterException, OSError)
PAGE_PREFIX = b"perseus:page:"
COUNT_PREFIX = b"perseus:count:"
LEASE_PREFIX = b"perseus:lease:"
INDEX_PREFIX = b"perseus:index:"
INVALIDATIONS = b"perseus:invalidate"
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
# PERF: pages are spread over SHARDS hash tags, each with its own page count in the same
# cluster slot, so a write and its count change in one script on one node, and ``count``
# reads SHARDS counters however many keys Redis holds. 64 spreads the pages over a
# cluster's masters evenly enough (about 21 tags each of 3) and is still one small read.
SHARDS = 64
_TAGS = [b"{%02x}" % shard for shard in range(SHARDS)]
_TAG = len(_TAGS[0])
# NOTE: small enough that a dead Redis stalls a worker briefly, large enough for big records.
DEFAULT_TIMEOUT = 2.0
# How long Redis keeps a lease past its expiry before collecting it.
LEASE_COLLECT_MS = 60_000
_SCAN_BATCH = 500


def shard_tag(key: bytes) -> bytes:
    """The hash tag of ``key``'s shard: its page and the shard's count share a cluster slot."""
    return _TAGS[zlib.crc32(key) % SHARDS]


def redis_page(key: bytes) -> bytes:
    """The Redis key holding the value of store key ``key``."""
    return PAGE_PREFIX + shard_tag(key) + key


def redis_index(name: bytes) -> bytes:
    """The Redis key of the index set ``name``."""
    return INDEX_PREFIX + shard_tag(name) + name


def redis_keys(key: bytes) -> list[bytes]:
    """The Redis keys a change of ``key`` touches: its page, and its shard's page count."""
    tag = shard_tag(key)
    return [PAGE_PREFIX + tag + key, COUNT_PREFIX + tag]


def store_key(redis_key: bytes) -> bytes | None:
    """The store key a Redis page key holds, or None for a key of another layout."""
    tag, key = redis_key[len(PAGE_PREFIX):len(PAGE_PREFIX) + _TAG], redis_key[len(PAGE_PREFIX) + _TAG:]
    return key if redis_key.startswith(PAGE_PREFIX) and tag == shard_tag(key) else None


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}@" if parts.username else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def machine_id() -> str:
    """This machine: host name and boot id (a lease holder's pid is checked only here)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            boot_id = boot.read().strip()
    except OSError:
        boot_id = ""
    return f"{socket.gethostname()}/{boot_id}".replace("|", "/")


def connect(url: str, timeout: float) -> Any:
    """A client of the Redis (``redis://``) or Redis Cluster (``redis+cluster://``) at ``url``.

    Every command gets a socket timeout of ``timeout`` and no retries.

    Raises:
        ConfigurationError: ``url`` is not a usable Redis URL.
        StoreError: the cluster does not answer (a cluster client asks for its layout at once).
    """
    safe_url = redacted(url)
    parts = urlsplit(url)
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                               "retry": Retry(NoBackoff(), 0)}
    try:
        if parts.scheme not in CLUSTER_SCHEMES:
            return redis.Redis.from_url(url, health_check_interval=15, **options)
        if parts.path.strip("/") not in ("", "0"):
            raise ConfigurationError(f"PERSEUS_STORE={safe_url}: a Redis Cluster has only database 0")
        plain = urlunsplit((CLUSTER_SCHEMES[parts.scheme], parts.netloc, "", parts.query, ""))
        cluster = RedisCluster.from_url(plain, **options)
        _refresh_in_background(cluster)
        return cluster
    except ValueError as exc:
        raise ConfigurationError(f"PERSEUS_STORE={safe_url} is not a usable Redis URL: {exc}") from None
    except FAILURES as exc:
        if "cluster mode is not enabled" in str(exc).lower():
            raise ConfigurationError(f"PERSEUS_STORE={safe_url} names a Redis server that is not a cluster:"
                                     f" use {CLUSTER_SCHEMES[parts.scheme]}://") from None
        raise StoreError(f"cannot reach the Redis Cluster at {safe_url}: {exc}") from None


def _refresh_in_background(cluster: Any) -> None:
    """Make ``cluster``'s layout refreshes run in a thread of their own, one at a time.

    NOTE: after a call fails to reach its node, redis-py's cluster client asks the nodes
    for the cluster's layout before raising: with the nodes frozen that costs (1 + nodes) x
    the timeout (measured: 4 s for a 1 s timeout and 3 masters). In the background, the call
    fails after one timeout, and the next calls find the new layout once it is known.
    """
    manager = cluster.nodes_manager
    refresh = manager.initialize
    running = threading.Lock()

    def run(*args: Any, **kwargs: Any) -> None:
        try:
            refresh(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the next failed call tries again
            log.debug("could not refresh the Redis Cluster's layout: %s", exc)
        finally:
            running.release()

    def initialize(*args: Any, **kwargs: Any) -> None:
        if running.acquire(blocking=False):  # one already running will see the new layout
            threading.Thread(target=run, args=args, kwargs=kwargs, name="perseus-redis-cluster-layout",
                             daemon=True).start()

    manager.initialize = initialize


class RedisStore:
    """A ``MutableStore`` on one Redis database or a Redis Cluster; one client per process,
    opened after the fork."""

    network = True

    network = True

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.safe_url = redacted(url)
        self.timeout = timeout
        self.machine = machine_id()
        self.pid = os.getpid()
        self.cluster = urlsplit(url).scheme in CLUSTER_SCHEMES
        self.client = connect(url, timeout)
        self._subscriber_node = int.from_bytes(os.urandom(2), "big")
        self._write = self.client.register_script(scripts.WRITE)
        self._delete = self.client.register_script(scripts.DELETE)
        self._seed = self.client.register_script(scripts.SEED)
        self._release = self.client.register_script(scripts.RELEASE)
        self._hold = self.client.register_script(scripts.HOLD)
        self._take_over = self.client.register_script(scripts.TAKE_OVER)

    def _call(self, what: str, command: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FAILURES as exc:
            raise StoreError(f"Redis store {self.safe_url}: {what} failed: {exc}") from None

    def ping(self) -> None:
        """Check that Redis answers, and that it is a cluster exactly when the URL says so.

        Raises:
            StoreError: naming the URL (never its password) and what went wrong.
            ConfigurationError: ``redis://`` names a node of a Redis Cluster.
        """
        try:
            if self.cluster:
                self.client.ping()
                return
            enabled = self.client.info("cluster").get("cluster_enabled")
        except FAILURES as exc:
            raise StoreError(f"cannot reach the Redis store at {self.safe_url}: {exc}") from None
        if enabled == 1:
            scheme = urlsplit(self.url).scheme
            raise ConfigurationError(f"PERSEUS_STORE={self.safe_url} names a node of a Redis Cluster:"
                                     f" use {scheme}+cluster://")

    def read(self, key: bytes) -> bytes:
        value: bytes | None = self._call("read", self.client.get, redis_page(key))
        if value is None:
            raise StoreNotFound(key.hex())
        return value

    def write(self, key: bytes, value: bytes, *, announce: bytes | None = None) -> None:
        """Store ``value``; with ``announce``, also publish it as an invalidation (one round trip)."""
        self._call("write", self._write, keys=redis_keys(key), args=[value, *_announcement(key, announce)])

    def delete(self, key: bytes, *, announce: bytes | None = None) -> None:
        """Remove ``key``; with ``announce``, also publish it as an invalidation."""
        self._call("delete", self._delete, keys=redis_keys(key), args=_announcement(key, announce))

    def seed(self, key: bytes, value: bytes, build_id: str, generated_at: float, *,
             announce: bytes | None = None) -> bytes | None:
        """Store the record ``value`` unless ``key`` holds a newer one; None when stored, else that one.

        Newer: a record of a later build (build ids sort by the time the build started),
        or of the same build generated at ``generated_at`` or later (regenerated or marked
        since). An absent, damaged or foreign value is older.
        """
        kept = self._call("seed", self._seed, keys=redis_keys(key), args=[
            value, build_id, repr(generated_at), *_announcement(key, announce), RECORD_PREFIX, HEADER_BYTES])
        return None if kept == 1 else bytes(kept)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        # NOTE: scans the whole keyspace: for the CLI and maintenance, never a request.
        pages = self._call("scan", lambda: list(self.client.scan_iter(PAGE_PREFIX + b"{*}*",
                                                                      count=_SCAN_BATCH)))
        found: list[tuple[bytes, bytes]] = []
        for start in range(0, len(pages), _SCAN_BATCH):
            batch = [(key, bytes(redis_key)) for redis_key in pages[start:start + _SCAN_BATCH]
                     if (key := store_key(bytes(redis_key))) is not None]
            values = self._get_many("read", [redis_key for _, redis_key in batch])
            found += [(key, bytes(v)) for (key, _), v in zip(batch, values, strict=True) if v is not None]
        return iter(found)

    def count(self) -> int:
        # PERF: SHARDS counters kept by the write and delete scripts, never a SCAN or DBSIZE.
        counts = self._get_many("count", [COUNT_PREFIX + tag for tag in _TAGS])
        return sum(int(count) for count in counts if count is not None)

    def index_add(self, names: list[bytes], member: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.sadd(redis_index(name), member)
        self._call("index", pipe.execute)

    def index_members(self, name: bytes) -> list[bytes]:
        members = self._call("index", self.client.smembers, redis_index(name))
        return sorted(bytes(member) for member in members)

    def index_remove(self, name: bytes, members: list[bytes]) -> None:
        if members:
            self._call("index", self.client.srem, redis_index(name), *members)

    def prefixes(self, keys: list[bytes], length: int) -> list[bytes]:
        """The first ``length`` bytes of the value at each of ``keys`` (``b""`` for a missing key),
        in one round trip (one per node of a cluster)."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.getrange(redis_page(key), 0, length - 1)
        return [bytes(value) for value in self._call("read", pipe.execute)]

    def _get_many(self, what: str, keys: list[bytes]) -> list[bytes | None]:
        """The values at ``keys``: one MGET (one per slot, in one round trip per node, on a cluster)."""
        get = self.client.mget_nonatomic if self.cluster else self.client.mget
        return list(self._call(what, get, keys))

    def subscriber(self) -> Any:
        """A new pub/sub connection, to hear invalidations on.

        NOTE: in a cluster, PUBLISH reaches every node's subscribers: each new connection goes
        to the next master (redis-py would pick the channel's node for everyone), so a lost
        node costs its subscribers one reconnection, to another master.
        """
        if not self.cluster:
            return self.client.pubsub()
        masters = self.client.get_primaries()
        self._subscriber_node = (self._subscriber_node + 1) % len(masters)
        return self.client.pubsub(node=masters[self._subscriber_node])

    def _lease_value(self, owner: str, expires_at: float) -> tuple[bytes, int]:
        # NOTE: Redis's expiry only collects; the expiry in the value decides (caller's clock).
        collect_ms = int(max(expires_at - time.time(), 0.0) * 1000) + LEASE_COLLECT_MS
        return f"{owner}|{expires_at!r}|{self.machine}".encode(), collect_ms

    def _blocks(self, current: bytes, owner: str, now: float) -> tuple[bool, float]:
        holder, expires_at, machine = _decode_lease(current)
        if holder == owner or expires_at <= now:
            return False, expires_at
        # A holder on another machine cannot be checked: it blocks until its lease expires.
        return machine != self.machine or holder_is_alive(holder), expires_at

    def acquire_lease(self, name: bytes, owner: str, ttl: float, now: float) -> Lease:
        key = LEASE_PREFIX + name
        value, collect_ms = self._lease_value(owner, now + ttl)
        for _ in range(4):  # NOTE: bounded; each round lost a race to another taker
            if self._call("lease", self.client.set, key, value, nx=True, px=collect_ms):
                return Lease(True, now + ttl)
            current: bytes | None = self._call("lease", self.client.get, key)
            if current is None:
                continue  # collected meanwhile: try again
            blocked, expires_at = self._blocks(current, owner, now)
            if blocked:
                return Lease(False, expires_at)
            if self._call("lease", self._take_over, keys=[key], args=[current, value, collect_ms]):
                return Lease(True, now + ttl)
        raise StoreError(f"Redis store {self.safe_url}: the lease {name.hex()} kept changing hands")

    def hold_lease(self, name: bytes, owner: str, until: float) -> None:
        value, collect_ms = self._lease_value(owner, until)
        self._call("lease", self._hold, keys=[LEASE_PREFIX + name], args=[owner, value, collect_ms])

    def release_lease(self, name: bytes, owner: str) -> None:
        self._call("lease", self._release, keys=[LEASE_PREFIX + name], args=[owner])

    def close(self) -> None:
        self.client.close()


def _announcement(key: bytes, announce: bytes | None) -> list[bytes]:
    """The channel and message of a script that publishes ``announce`` for ``key`` (empty: none)."""
    return [b"", b""] if announce is None else [INVALIDATIONS, announce + key]


def _decode_lease(value: bytes) -> tuple[str, float, str]:
    holder, _, rest = bytes(value).decode("utf-8", "replace").partition("|")
    expires, _, machine = rest.partition("|")
    try:
        return holder, float(expires), machine
    except ValueError:
        return "", 0.0, ""  # a damaged lease is an expired one
