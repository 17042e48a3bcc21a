"""A ``MutableStore`` on Redis, shared by several machines (``PERSEUS_STORE=redis://host:port/db``).

Values are the same records as in LMDB (same hashed keys, framing and checksum), under
``perseus:page:<key>``. A lease is ``perseus:lease:<name>`` holding
``owner|expires_at|machine``: taken with ``SET NX PX``, taken over only by a
compare-and-set, released or extended only by its holder (small Lua scripts, so the check
and the change are one step on the server). The expiry in the value, compared with the
caller's clock, decides; Redis's own expiry only collects leases whose holder vanished.

This is the one module that imports redis-py (``pip install 'perseus[redis]'``). Every
command has a socket timeout and no retries: with Redis gone a call fails in bounded
time with ``StoreError`` instead of hanging the worker's event loop.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError, StoreError, StoreNotFound
from .mutable import Lease, holder_is_alive

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError:  # pragma: no cover - depends on the installation
    raise ConfigurationError(
        "PERSEUS_STORE=redis://... needs the Redis client: pip install 'perseus[redis]'"
    ) from None

RedisError = redis.RedisError
PAGE_PREFIX = b"perseus:page:"
LEASE_PREFIX = b"perseus:lease:"
INVALIDATIONS = b"perseus:invalidate"
# NOTE: small enough that a dead Redis stalls a worker briefly, large enough for big records.
DEFAULT_TIMEOUT = 2.0
# How long Redis keeps a lease past its expiry before collecting it.
LEASE_COLLECT_MS = 60_000
_SCAN_BATCH = 500

# KEYS[1] lease; ARGV[1] owner. Deletes the lease only if owner holds it.
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] lease; ARGV[1] owner, ARGV[2] new value, ARGV[3] ms. Absent or ours: set it.
_HOLD = """
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1
end
return 0
"""
# KEYS[1] lease; ARGV[1] the value seen, ARGV[2] new value, ARGV[3] ms. Compare-and-set.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0
"""


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


class RedisStore:
    """A ``MutableStore`` on one Redis database; one client per process, opened after the fork."""

    network = True

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.safe_url = redacted(url)
        self.timeout = timeout
        self.machine = machine_id()
        self.pid = os.getpid()
        try:
            self.client: redis.Redis = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0), health_check_interval=15,
            )
        except (ValueError, RedisError) as exc:
            raise ConfigurationError(f"PERSEUS_STORE={self.safe_url} is not a usable Redis URL: {exc}") \
                from None
        self._release = self.client.register_script(_RELEASE)
        self._hold = self.client.register_script(_HOLD)
        self._take_over = self.client.register_script(_TAKE_OVER)

    def _call(self, what: str, command: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (RedisError, OSError) as exc:
            raise StoreError(f"Redis store {self.safe_url}: {what} failed: {exc}") from None

    def ping(self) -> None:
        """Check that Redis answers.

        Raises:
            StoreError: naming the URL (never its password) and what went wrong.
        """
        try:
            self.client.ping()
        except (RedisError, OSError) as exc:
            raise StoreError(f"cannot reach the Redis store at {self.safe_url}: {exc}") from None

    def read(self, key: bytes) -> bytes:
        value: bytes | None = self._call("read", self.client.get, PAGE_PREFIX + key)
        if value is None:
            raise StoreNotFound(key.hex())
        return value

    def write(self, key: bytes, value: bytes, *, announce: bytes | None = None) -> None:
        """Store ``value``; with ``announce``, also publish it as an invalidation (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(PAGE_PREFIX + key, value)
        if announce is not None:
            pipe.publish(INVALIDATIONS, announce + key)
        self._call("write", pipe.execute)

    def delete(self, key: bytes, *, announce: bytes | None = None) -> None:
        """Remove ``key``; with ``announce``, also publish it as an invalidation."""
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(PAGE_PREFIX + key)
        if announce is not None:
            pipe.publish(INVALIDATIONS, announce + key)
        self._call("delete", pipe.execute)

    def _page_keys(self) -> list[bytes]:
        keys = self._call("scan", lambda: list(self.client.scan_iter(PAGE_PREFIX + b"*", count=_SCAN_BATCH)))
        return [bytes(key) for key in keys]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        keys = self._page_keys()
        found: list[tuple[bytes, bytes]] = []
        for start in range(0, len(keys), _SCAN_BATCH):
            batch = keys[start:start + _SCAN_BATCH]
            values = self._call("read", self.client.mget, batch)
            found += [(k[len(PAGE_PREFIX):], v) for k, v in zip(batch, values, strict=True) if v is not None]
        return iter(found)

    def count(self) -> int:
        return len(self._page_keys())

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


def _decode_lease(value: bytes) -> tuple[str, float, str]:
    holder, _, rest = bytes(value).decode("utf-8", "replace").partition("|")
    expires, _, machine = rest.partition("|")
    try:
        return holder, float(expires), machine
    except ValueError:
        return "", 0.0, ""  # a damaged lease is an expired one
