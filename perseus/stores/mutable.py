"""The ``MutableStore`` protocol: what revalidation and incremental generation need of a store.

A store maps short byte keys to byte values, keeps leases, and keeps index sets (a
name, at most ``MAX_KEY_BYTES`` long, to a set of keys) that are read without a scan. Implementations: LMDB
(``perseus.stores.lmdb_store``, the default) and memory (``perseus.stores.memory``); the
conformance suite in ``tests/test_mutable_store.py`` runs against each.

Keys are at most ``MAX_KEY_BYTES`` long (callers hash long names, see ``records``); a
missing key is ``StoreNotFound`` and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple, Protocol

MAX_KEY_BYTES = 64


class Lease(NamedTuple):
    """The answer to ``acquire_lease``: whether we hold it now, and until when it is held."""

    acquired: bool
    expires_at: float


class MutableStore(Protocol):
    """A small key-value store with single-flight leases."""

    network: bool
    """Whether calls may wait on the network: callers keep them off the event loop."""

    def read(self, key: bytes) -> bytes:
        """The value at ``key``; ``StoreNotFound`` when there is none."""

    def write(self, key: bytes, value: bytes) -> None:
        """Store ``value`` at ``key`` atomically: readers see the old or the new value, whole."""

    def delete(self, key: bytes) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key and value (for maintenance and checks, not for serving)."""

    def count(self) -> int:
        """How many values the store holds (leases are not counted)."""

    def index_add(self, names: list[bytes], member: bytes) -> None:
        """Add ``member`` to each of the index sets ``names`` (the page tags of ``records``)."""

    def index_members(self, name: bytes) -> list[bytes]:
        """The members of the index set ``name``, read without scanning the store."""

    def index_remove(self, name: bytes, members: list[bytes]) -> None:
        """Remove ``members`` from the index set ``name``; a missing one is not an error."""

    def acquire_lease(self, name: bytes, owner: str, ttl: float, now: float) -> Lease:
        """Take the lease ``name`` for ``ttl`` seconds unless a live holder has it.

        A lease whose expiry has passed, or whose holder process is gone, is taken over.
        """

    def hold_lease(self, name: bytes, owner: str, until: float) -> None:
        """Keep holding a lease ``owner`` holds until ``until`` (a backoff after a failure)."""

    def release_lease(self, name: bytes, owner: str) -> None:
        """Give up a lease ``owner`` holds; a lease held by someone else is left alone."""

    def close(self) -> None:
        """Release the store's resources."""


def lease_owner() -> str:
    """A lease owner name unique to this process: ``<pid>:<start time>:<random>``."""
    pid = os.getpid()
    return f"{pid}:{process_start_time(pid)}:{os.urandom(6).hex()}"


def holder_is_alive(owner: str) -> bool:
    """Whether the process named in a lease owner still exists (on this machine)."""
    pid_text, _, rest = owner.partition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    started = rest.partition(":")[0] if rest.count(":") else ""  # "" in the older <pid>:<random>
    return process_is_alive(pid, started)


def process_start_time(pid: int) -> str:
    """When process ``pid`` started (Linux: field 22 of /proc/<pid>/stat, in clock ticks
    since boot), or "" where that cannot be read."""
    fields = _stat(pid)
    return fields[19].decode() if len(fields) > 19 else ""


def process_is_alive(pid: int, started: str) -> bool:
    """Whether process ``pid`` runs and, if ``started`` is known, is the one that started
    then: pids are reused (this machine's wrap in minutes under load)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    fields = _stat(pid)
    if not fields:
        return True  # no /proc: the pid alone decides
    # NOTE: a killed worker whose parent died too stays a zombie until PID 1 reaps it, for
    # good in a container without an init: it holds nothing.
    if fields[0] in (b"Z", b"X"):
        return False
    return not started or len(fields) <= 19 or fields[19].decode() == started


def _stat(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the command name (state first), or []."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()
    except OSError:
        return []


def lease_blocks(holder: str, expires_at: float, owner: str, now: float) -> bool:
    """Whether an existing lease keeps ``owner`` from taking it."""
    return holder != owner and expires_at > now and holder_is_alive(holder)
