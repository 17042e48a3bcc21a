"""A ``MutableStore`` in process memory: for tests and single-process servers without a disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ..errors import StoreNotFound
from .mutable import Lease, lease_blocks


class MemoryStore:
    """Values and leases in dicts; nothing survives the process."""

    network = False

    def __init__(self) -> None:
        self._values: dict[bytes, bytes] = {}
        self._leases: dict[bytes, tuple[str, float]] = {}
        self._index: dict[bytes, set[bytes]] = {}
        self._lock = threading.Lock()

    def read(self, key: bytes) -> bytes:
        value = self._values.get(key)
        if value is None:
            raise StoreNotFound(key.hex())
        return value

    def write(self, key: bytes, value: bytes) -> None:
        self._values[key] = bytes(value)

    def delete(self, key: bytes) -> None:
        self._values.pop(key, None)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._values.items()))

    def count(self) -> int:
        return len(self._values)

    def index_add(self, names: list[bytes], member: bytes) -> None:
        with self._lock:
            for name in names:
                self._index.setdefault(name, set()).add(member)

    def index_members(self, name: bytes) -> list[bytes]:
        with self._lock:
            return sorted(self._index.get(name, ()))

    def index_remove(self, name: bytes, members: list[bytes]) -> None:
        with self._lock:
            kept = self._index.get(name, set()) - set(members)
            if kept:
                self._index[name] = kept
            else:
                self._index.pop(name, None)

    def acquire_lease(self, name: bytes, owner: str, ttl: float, now: float) -> Lease:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and lease_blocks(current[0], current[1], owner, now):
                return Lease(False, current[1])
            self._leases[name] = (owner, now + ttl)
            return Lease(True, now + ttl)

    def hold_lease(self, name: bytes, owner: str, until: float) -> None:
        with self._lock:
            current = self._leases.get(name)
            if current is None or current[0] == owner:
                self._leases[name] = (owner, until)

    def release_lease(self, name: bytes, owner: str) -> None:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] == owner:
                del self._leases[name]

    def close(self) -> None:
        self._values.clear()
        self._leases.clear()
        self._index.clear()
