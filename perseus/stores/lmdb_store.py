"""The default ``MutableStore``: one LMDB environment per process, opened after the fork.

Every operation is a short transaction that copies its value out: no transaction is
held across user code or an ``await`` (so readers never pin old pages, and the map can
be resized). Four named databases: ``pages`` (the values), ``leases``, ``meta`` (the
first-level cache bookkeeping of the tiered store, ``perseus.stores.tiered``) and
``index`` (the index sets: one empty value per member, keyed ``len(name) | name |
member``, so a set's members are one key range, read with a cursor, never a scan).

Durability: commits do not wait for the disk (an fsync costs ~8 ms here, which would
stall the event loop and cap generation at ~120 pages/s); a background thread flushes
within ``FLUSH_SECONDS`` of a write, and ``close`` flushes. A killed process loses
nothing (the data is in the OS page cache); an OS crash may lose the last flush window
of pages, which are regenerated. Without ``writemap`` LMDB keeps every transaction
atomic and consistent either way.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import lmdb

from ..errors import StoreError, StoreNotFound
from ..settings import DEFAULT_MAP_SIZE
from .mutable import Lease, lease_blocks

T = TypeVar("T")
log = logging.getLogger("perseus.store")

# PERF: a large map up front (DEFAULT_MAP_SIZE, sparse on disk) makes runtime resizes rare;
# PERSEUS_LMDB_MAP_SIZE (Settings.lmdb_map_size) sets another.
MAX_MAP_SIZE = 1 << 40
# NOTE: reader slots are fixed by the first process to open; each worker uses a
# handful (the loop thread), so this leaves room for many workers and tools.
MAX_READERS = 1024
_ATTEMPTS = 8
FLUSH_SECONDS = 0.05

# One environment per real path per process (LMDB forbids opening one twice).
_OPEN: dict[tuple[str, int], LMDBStore] = {}
# This process's id, kept current across fork by the hook (os.getpid() is a syscall).
_current_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _current_pid.__setitem__(0, os.getpid()))


def open_lmdb(path: str | os.PathLike[str], *, readonly: bool = False,
              map_size: int | None = None) -> LMDBStore:
    """The LMDB store at ``path`` for this process, opening it if needed.

    ``map_size`` (``Settings.lmdb_map_size``) defaults to 1 GiB; the map grows when it is full.

    Raises:
        StoreError: the location cannot be created or opened (read-only, permissions).
    """
    real = os.path.realpath(path)
    store = _OPEN.get((real, os.getpid()))
    if store is None or store.closed:
        store = LMDBStore(real, readonly=readonly, map_size=map_size or DEFAULT_MAP_SIZE)
        _OPEN[(real, os.getpid())] = store
    return store


@contextmanager
def lmdb_session(path: str | os.PathLike[str], map_size: int | None = None) -> Iterator[LMDBStore]:
    """The store at ``path`` for a short piece of work, closed afterwards.

    NOTE: a process that already has it open (a server worker calling
    ``perseus.revalidate``) keeps it open: its engine is still using it.
    """
    known = _OPEN.get((os.path.realpath(path), os.getpid()))
    already_open = known is not None and not known.closed
    store = open_lmdb(path, map_size=map_size)
    try:
        yield store
    finally:
        if not already_open:
            store.close()


class LMDBStore:
    """A ``MutableStore`` on an LMDB environment; use ``open_lmdb`` rather than this directly."""

    network = False

    def __init__(self, path: str, *, readonly: bool = False, map_size: int = DEFAULT_MAP_SIZE) -> None:
        self.path = path
        self.readonly = readonly
        self.pid = os.getpid()
        self.closed = False
        # Held while the map is resized or flushed: the two must not overlap.
        self._map_lock = threading.Lock()
        self._dirty = threading.Event()
        try:
            if not readonly:
                os.makedirs(path, exist_ok=True)
            self.env = lmdb.open(path, map_size=map_size, max_dbs=4, max_readers=MAX_READERS,
                                 readonly=readonly, create=not readonly, sync=False, metasync=False)
            # Clear reader slots left by processes that died (kill -9) holding one.
            self.env.reader_check()
            self._pages = self._open_db(b"pages")
            self._leases = self._open_db(b"leases")
            self._meta = self._open_db(b"meta")
            self._index = self._open_db(b"index")
        except (OSError, lmdb.Error) as exc:
            raise StoreError(
                f"cannot open the LMDB store in {path}: {exc} (it holds only regenerable pages:"
                " if it is damaged, delete it)"
            ) from None
        self._flusher: threading.Thread | None = None
        if not readonly:
            self._flusher = threading.Thread(target=self._flush_loop, name="perseus-lmdb-flush",
                                             daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            self._dirty.wait()
            if self.closed:
                return
            time.sleep(FLUSH_SECONDS)  # NOTE: one fsync covers every commit of the window
            self._dirty.clear()
            self.flush()

    def flush(self) -> None:
        """Write every committed transaction to disk now."""
        with self._map_lock:
            if not self.closed and not self.readonly:
                self.env.sync(True)

    def _open_db(self, name: bytes) -> lmdb._Database | None:
        if not self.readonly:
            return self.env.open_db(name)
        try:
            return self.env.open_db(name, create=False)
        except lmdb.NotFoundError:
            return None  # nothing was ever written: an empty store

    def _checked(self, operation: Callable[[], T]) -> T:
        # SECURITY: an environment inherited through fork is unsafe to use; each
        # process opens its own (open_lmdb keys the registry by pid).
        if os.getpid() != self.pid:
            raise StoreError(f"the LMDB store in {self.path} was opened by process {self.pid}; reopen it")
        for _ in range(_ATTEMPTS):
            try:
                return operation()
            except lmdb.MapResizedError:
                with self._map_lock:
                    self.env.set_mapsize(0)  # another process grew the map: adopt its size
            except lmdb.MapFullError:
                self._grow()
            except lmdb.ReadonlyError as exc:
                raise StoreError(f"the LMDB store in {self.path} is read-only: {exc}") from None
            except lmdb.Error as exc:
                raise StoreError(f"LMDB store {self.path}: {exc}") from None
        raise StoreError(f"LMDB store {self.path}: the map could not be grown to fit")

    def _grow(self) -> None:
        # NOTE: set_mapsize is legal only with no transaction open in this process
        # (true: every operation is a closed transaction) and must not race another
        # process resizing (py-lmdb #269), hence the file lock.
        with open(os.path.join(self.path, "resize.lock"), "a") as lock, self._map_lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            before = self.env.info()["map_size"]
            self.env.set_mapsize(0)
            if self.env.info()["map_size"] == before:
                if before * 2 > MAX_MAP_SIZE:
                    raise StoreError(f"LMDB store {self.path} is full at {before} bytes")
                self.env.set_mapsize(before * 2)
                log.warning("the LMDB map of %s was full: grown to %d bytes (a larger"
                            " PERSEUS_LMDB_MAP_SIZE avoids resizes)", self.path, before * 2)

    def read(self, key: bytes) -> bytes:
        value = self.read_or_none(key)
        if value is None:
            raise StoreNotFound(key.hex())
        return value

    def read_or_none(self, key: bytes) -> bytes | None:
        """The value at ``key``, or None: ``read`` without an exception for a missing key.

        Raises:
            StoreError: the store cannot be read.
        """
        if _current_pid[0] == self.pid and self._pages is not None:
            # PERF: the path every stored page takes (no getpid syscall: the fork hook
            # below keeps the pid); failures go the slow way.
            try:
                with self.env.begin(db=self._pages) as txn:
                    value: bytes | None = txn.get(key)
                    return value
            except lmdb.Error:
                pass
        return self._checked(lambda: self._get(key))

    def read_unless(self, key: bytes, known: bytes) -> bytes | None:
        """``read_or_none``, except that a value beginning with ``known`` (a record's header)
        is not copied out: ``known`` itself is returned.

        PERF: a stored page read on every request is the version decoded last time, almost
        always: comparing its header in place spares copying the whole record (tens of KB
        with its compressed copies) out of the map per request.

        Raises:
            StoreError: the store cannot be read.
        """
        if _current_pid[0] == self.pid and self._pages is not None:
            try:
                with self.env.begin(db=self._pages, buffers=True) as txn:
                    view = txn.get(key)
                    if view is None:
                        return None
                    # NOTE: the buffer is valid only inside the transaction: copied if kept.
                    return known if view[:len(known)] == known else bytes(view)
            except lmdb.Error:
                pass
        return self._checked(lambda: self._get(key))

    def _get(self, key: bytes) -> bytes | None:
        if self._pages is None:
            return None
        with self.env.begin(db=self._pages) as txn:
            value: bytes | None = txn.get(key)
            return value

    def write(self, key: bytes, value: bytes) -> None:
        def put() -> None:
            with self.env.begin(write=True, db=self._pages) as txn:
                txn.put(key, value)

        self._checked(put)
        self._dirty.set()

    def delete(self, key: bytes) -> None:
        def remove() -> None:
            with self.env.begin(write=True, db=self._pages) as txn:
                txn.delete(key)

        self._checked(remove)
        self._dirty.set()

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        def copy_all() -> list[tuple[bytes, bytes]]:
            if self._pages is None:
                return []
            with self.env.begin(db=self._pages) as txn:
                return [(bytes(k), bytes(v)) for k, v in txn.cursor()]

        return iter(self._checked(copy_all))

    def keys(self) -> list[bytes]:
        """Every key, without copying the values out (a first-level cache may hold many)."""
        def copy_keys() -> list[bytes]:
            if self._pages is None:
                return []
            with self.env.begin(db=self._pages) as txn:
                return [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]

        return self._checked(copy_keys)

    def count(self) -> int:
        def entries() -> int:
            if self._pages is None:
                return 0
            with self.env.begin(db=self._pages) as txn:
                return int(txn.stat(self._pages)["entries"])

        return self._checked(entries)

    def index_add(self, names: list[bytes], member: bytes) -> None:
        def put() -> None:
            with self.env.begin(write=True, db=self._index) as txn:
                for name in names:
                    txn.put(_index_prefix(name) + member, b"")

        self._checked(put)
        self._dirty.set()

    def index_members(self, name: bytes) -> list[bytes]:
        prefix = _index_prefix(name)

        def members() -> list[bytes]:
            if self._index is None:
                return []
            found = []
            with self.env.begin(db=self._index) as txn:
                cursor = txn.cursor()
                if cursor.set_range(prefix):
                    for key in cursor.iternext(keys=True, values=False):
                        if not bytes(key).startswith(prefix):
                            break
                        found.append(bytes(key)[len(prefix):])
            return found

        return self._checked(members)

    def index_remove(self, name: bytes, members: list[bytes]) -> None:
        prefix = _index_prefix(name)

        def remove() -> None:
            with self.env.begin(write=True, db=self._index) as txn:
                for member in members:
                    txn.delete(prefix + member)

        self._checked(remove)
        self._dirty.set()

    def acquire_lease(self, name: bytes, owner: str, ttl: float, now: float) -> Lease:
        def take() -> Lease:
            with self.env.begin(write=True) as txn:
                return _take_lease(txn, self._leases, name, owner, ttl, now)

        return self._checked(take)

    def lease_unless_present(self, key: bytes, owner: str, ttl: float,
                             now: float) -> tuple[bytes | None, Lease]:
        """The value at ``key`` if there is one, else ``acquire_lease(key, ...)``: one transaction.

        PERF: a first generation's "is it stored yet? then I generate it" in one commit, not three.
        """
        def take() -> tuple[bytes | None, Lease]:
            with self.env.begin(write=True) as txn:
                value = txn.get(key, db=self._pages)
                if value is not None:
                    txn.abort()
                    return bytes(value), Lease(False, 0.0)
                return None, _take_lease(txn, self._leases, key, owner, ttl, now)

        return self._checked(take)

    def write_releasing(self, key: bytes, value: bytes, owner: str, max_entries: int) -> bool:
        """``write(key, value)`` unless the store holds ``max_entries`` values already, then
        ``release_lease(key, owner)``: one transaction. Returns whether ``value`` was written.

        PERF: a first generation's "store it, let the others go" in one commit, not three.
        """
        def put() -> bool:
            with self.env.begin(write=True) as txn:
                stored = txn.stat(self._pages)["entries"] < max_entries
                if stored:
                    txn.put(key, value, db=self._pages)
                _release(txn, self._leases, key, owner)
                return bool(stored)

        stored = self._checked(put)
        self._dirty.set()
        return stored

    def hold_lease(self, name: bytes, owner: str, until: float) -> None:
        def extend() -> None:
            with self.env.begin(write=True, db=self._leases) as txn:
                current = txn.get(name)
                if current is None or _decode_lease(current)[0] == owner:
                    txn.put(name, _encode_lease(owner, until))

        self._checked(extend)

    def release_lease(self, name: bytes, owner: str) -> None:
        def release() -> None:
            with self.env.begin(write=True) as txn:
                _release(txn, self._leases, name, owner)

        self._checked(release)

    # -- first-level cache (the tiered store) --------------------------------------------------
    # NOTE: every invalidation bumps an epoch in the same transaction; a fill copied from
    # the remote store lands only if the epoch did not move meanwhile, so a fill that raced
    # an invalidation can never bring back the version it replaced.

    def cache_epoch(self) -> int:
        """The invalidation counter a later ``fill`` is checked against."""
        def current() -> int:
            with self.env.begin(db=self._meta) as txn:
                return _epoch_of(txn)

        return self._checked(current)

    def fill(self, key: bytes, value: bytes, epoch: int) -> bool:
        """Store ``value`` unless something was invalidated since ``epoch`` was read."""
        def put_if_unchanged() -> bool:
            with self.env.begin(write=True) as txn:
                if _epoch_of(txn, self._meta) != epoch:
                    txn.abort()
                    return False
                txn.put(key, value, db=self._pages)
                return True

        stored = self._checked(put_if_unchanged)
        self._dirty.set()
        return stored

    def replace(self, key: bytes, value: bytes) -> None:
        """Store ``value`` and turn away fills of older versions still in flight."""
        self._invalidating(lambda txn: txn.put(key, value, db=self._pages))

    def invalidate(self, keys: list[bytes] | None,
                   keep: Callable[[bytes, bytes], bool] | None = None) -> None:
        """Drop ``keys`` (every value when None) and turn away fills in flight.

        A value for which ``keep(key, value)`` is true stays (it is already the current version).
        """
        def drop(txn: lmdb.Transaction) -> None:
            if keys is None and self._pages is not None:
                txn.drop(self._pages, delete=False)
            for key in keys or ():
                current = txn.get(key, db=self._pages) if keep is not None else None
                if current is None or not keep(key, bytes(current)):  # type: ignore[misc]
                    txn.delete(key, db=self._pages)

        self._invalidating(drop)

    def _invalidating(self, change: Callable[[lmdb.Transaction], object]) -> None:
        def run() -> None:
            with self.env.begin(write=True) as txn:
                change(txn)
                txn.put(_EPOCH, (_epoch_of(txn, self._meta) + 1).to_bytes(8, "big"), db=self._meta)

        self._checked(run)
        self._dirty.set()

    def cache_id(self) -> bytes:
        """A random id of this LMDB environment, the same in every process that opens it."""
        def get_or_create() -> bytes:
            with self.env.begin(write=True, db=self._meta) as txn:
                existing = txn.get(_CACHE_ID)
                if existing is not None:
                    return bytes(existing)
                created = os.urandom(16)
                txn.put(_CACHE_ID, created)
                return created

        return self._checked(get_or_create)

    def close(self) -> None:
        if not self.closed and os.getpid() == self.pid:
            self.flush()
            with self._map_lock:
                self.closed = True
                self._dirty.set()  # wakes the flusher, which sees closed and ends
                self.env.close()
        self.closed = True
        _OPEN.pop((self.path, self.pid), None)


_EPOCH = b"epoch"
_CACHE_ID = b"cache-id"


def _epoch_of(txn: lmdb.Transaction, db: lmdb._Database | None = None) -> int:
    value = txn.get(_EPOCH, db=db) if db is not None else txn.get(_EPOCH)
    return int.from_bytes(value, "big") if value else 0


def _index_prefix(name: bytes) -> bytes:
    # NOTE: the length first, so that no set's keys are a range inside another's.
    return bytes([len(name)]) + name


def _take_lease(txn: lmdb.Transaction, leases: lmdb._Database | None, name: bytes, owner: str, ttl: float,
                now: float) -> Lease:
    current = txn.get(name, db=leases)
    if current is not None:
        holder, expires_at = _decode_lease(current)
        if lease_blocks(holder, expires_at, owner, now):
            txn.abort()  # nothing to write
            return Lease(False, expires_at)
    txn.put(name, _encode_lease(owner, now + ttl), db=leases)
    return Lease(True, now + ttl)


def _release(txn: lmdb.Transaction, leases: lmdb._Database | None, name: bytes, owner: str) -> None:
    current = txn.get(name, db=leases)
    if current is not None and _decode_lease(current)[0] == owner:
        txn.delete(name, db=leases)


def _encode_lease(owner: str, expires_at: float) -> bytes:
    return f"{owner}|{expires_at!r}".encode()


def _decode_lease(value: bytes | memoryview) -> tuple[str, float]:
    owner, _, expires = bytes(value).decode("utf-8", "replace").rpartition("|")
    try:
        return owner, float(expires)
    except ValueError:
        return "", 0.0  # a damaged lease is an expired one


def location_is_writable(path: Path) -> bool:
    """Whether an LMDB store could be created and written at ``path`` (checked without LMDB)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".perseus-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True
