"""Redis shared by every machine, with this machine's LMDB in front: a hit costs no network trip.

Reads look in the local LMDB first and copy a miss from Redis into it. Writes go to
Redis (which publishes the key and a digest of its value on ``perseus:invalidate``,
tagged with this machine's cache id) and then to the local LMDB. Each worker runs one
subscriber thread that drops the local copy of every key another machine announces
(unless the copy is the announced version); workers of this machine share the LMDB, so
they skip their own machine's announcements.

A subscriber that (re)connects cannot know what it missed while it was away, so it
keeps only the local copies that are still Redis's current versions (it compares each
record's header, which holds the checksum of the rest: one short read per cached page,
however large Redis is). While Redis is away, pages already cached locally keep being
served; everything that needs Redis fails with ``StoreError`` in bounded time. Leases
live in Redis only: single-flight across all machines.

The build seeds its revalidating pages into Redis and this machine's LMDB
(``seed_shared``), so their first hits need no network trip either.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator

from ..errors import StoreError, StoreNotFound
from .lmdb_store import LMDBStore
from .mutable import Lease
from .records import HEADER_BYTES, PageVersion, encode_record, page_key, record_header, tag_key
from .redis_store import FAILURES, INVALIDATIONS, RedisStore

log = logging.getLogger("perseus.store")
# How long the subscriber waits for a message before looking at the stop flag.
LISTEN_SECONDS = 0.2
MAX_RECONNECT_PAUSE = 2.0
_ID_BYTES = 16
_DIGEST_BYTES = 16
_GONE = bytes(_DIGEST_BYTES)  # the digest announced for a deleted key: matches no value
# Local copies checked against Redis per round trip when a subscriber (re)connects.
RESYNC_BATCH = 500
# A fill crossing an invalidation is dropped; the read copies the new version instead.
FILL_ATTEMPTS = 3


class TieredStore:
    """A ``MutableStore``: ``remote`` (Redis) behind ``local`` (LMDB) as a first-level cache."""

    network = True

    def __init__(self, local: LMDBStore, remote: RedisStore) -> None:
        self.local = local
        self.remote = remote
        self.cache_id = local.cache_id()
        self._stop = threading.Event()
        self.subscribed = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="perseus-invalidations", daemon=True)

    def start(self) -> None:
        """Start listening for other machines' invalidations (in the worker, after the fork)."""
        self._listener.start()

    def read(self, key: bytes) -> bytes:
        try:
            return self.local.read(key)
        except StoreNotFound:
            pass
        for _ in range(FILL_ATTEMPTS):
            epoch = self.local.cache_epoch()  # NOTE: read before Redis, see LMDBStore.fill
            value = self.remote.read(key)
            try:
                if self.local.fill(key, value, epoch):
                    break
            except StoreError as exc:
                log.warning("could not cache a page locally: %s", exc)
                break
        return value

    def read_local(self, key: bytes) -> bytes | None:
        """This machine's cached copy of ``key``, or None: never waits on the network.

        Raises:
            StoreError: the local LMDB cannot be read.
        """
        return self.local.read_or_none(key)

    def write(self, key: bytes, value: bytes) -> None:
        self.remote.write(key, value, announce=self.cache_id + _digest(value))
        try:
            self.local.replace(key, value)
        except StoreError as exc:
            log.warning("could not cache a page locally: %s", exc)
            self.local.invalidate([key])

    def delete(self, key: bytes) -> None:
        self.remote.delete(key, announce=self.cache_id + _GONE)
        self.local.invalidate([key])

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return self.remote.items()

    def count(self) -> int:
        return self.remote.count()

    # Index sets live in Redis only, like leases: every machine reads the same ones.
    def index_add(self, names: list[bytes], member: bytes) -> None:
        self.remote.index_add(names, member)

    def index_members(self, name: bytes) -> list[bytes]:
        return self.remote.index_members(name)

    def index_remove(self, name: bytes, members: list[bytes]) -> None:
        self.remote.index_remove(name, members)

    def acquire_lease(self, name: bytes, owner: str, ttl: float, now: float) -> Lease:
        return self.remote.acquire_lease(name, owner, ttl, now)

    def hold_lease(self, name: bytes, owner: str, until: float) -> None:
        self.remote.hold_lease(name, owner, until)

    def release_lease(self, name: bytes, owner: str) -> None:
        self.remote.release_lease(name, owner)

    def close(self) -> None:
        self._stop.set()
        if self._listener.is_alive():
            self._listener.join(LISTEN_SECONDS * 4)
        self.remote.close()
        self.local.close()

    # -- invalidations ---------------------------------------------------------------------------

    def _listen(self) -> None:
        pause = 0.05
        away = False
        while not self._stop.is_set():
            pubsub = self.remote.subscriber()
            try:
                pubsub.subscribe(INVALIDATIONS)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=LISTEN_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._resync()
                        self.subscribed.set()
                        if away:
                            log.warning("Redis store %s is back: local copies checked against it",
                                        self.remote.safe_url)
                        away, pause = False, 0.05
                    elif message["type"] == "message":
                        self._invalidated(bytes(message["data"]))
            except (*FAILURES, StoreError) as exc:
                self.subscribed.clear()
                if not away:
                    log.warning("lost the Redis store %s (%s): serving locally cached pages",
                                self.remote.safe_url, exc)
                away = True
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_RECONNECT_PAUSE)
            finally:
                try:
                    pubsub.close()
                except FAILURES:
                    pass

    def _resync(self) -> None:
        """Drop every local copy that is not Redis's current version (just subscribed:
        whatever was announced while this worker was not listening is lost)."""
        keys = self.local.keys()
        for start in range(0, len(keys), RESYNC_BATCH):
            self._resync_batch(keys[start:start + RESYNC_BATCH])

    def _resync_batch(self, keys: list[bytes]) -> None:
        try:
            current = dict(zip(keys, self.remote.prefixes(keys, HEADER_BYTES), strict=True))
        except StoreError:  # e.g. a cluster node is down: what cannot be checked goes
            self.local.invalidate(keys)
            return
        self.local.invalidate(keys, keep=lambda key, value: record_header(value) == current[key])

    def _invalidated(self, announcement: bytes) -> None:
        origin, digest = announcement[:_ID_BYTES], announcement[_ID_BYTES:_ID_BYTES + _DIGEST_BYTES]
        key = announcement[_ID_BYTES + _DIGEST_BYTES:]
        if origin != self.cache_id and key:  # this machine's own writes are already local
            # A copy filled from Redis just before the announcement arrived may be the
            # announced version already: it stays.
            self.local.invalidate([key], keep=lambda _, value: _digest(value) == digest)


def seed_shared(local: LMDBStore, remote: RedisStore, versions: Iterable[PageVersion]) -> int:
    """Store the build's ``versions`` in Redis, each unless Redis holds a newer version of its
    page (``RedisStore.seed``), and in ``local`` whatever Redis holds then; how many were stored.

    Each stored version is announced, so other machines drop older copies.
    """
    # NOTE: a random origin, not local.cache_id(): that would give the built dist/mutable
    # (copied to every machine by `perseus deploy`) one cache id on every machine, and
    # machines skip announcements made under their own id.
    origin = os.urandom(_ID_BYTES)
    stored = 0
    for version in versions:
        key, value = page_key(version.locale, version.path), encode_record(version)
        if version.tags:  # NOTE: before the record, as PageRecords.put does
            remote.index_add([tag_key(tag) for tag in version.tags], key)
        kept = remote.seed(key, value, version.build_id, version.generated_at,
                           announce=origin + _digest(value))
        local.replace(key, value if kept is None else kept)
        stored += kept is None
    return stored


def _digest(value: bytes) -> bytes:
    return hashlib.blake2b(value, digest_size=_DIGEST_BYTES).digest()
