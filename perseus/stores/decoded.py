"""The page versions a process has decoded, bounded by the bytes of the bodies they hold.

A generated or revalidating page is read from the store on every request, and decoded
only when its checksum changed; the decoded versions are kept here. The bound is in bytes
(``PERSEUS_PAGE_CACHE_BYTES``), not in entries: 2,048 versions of 20 KB pages and of 2 MB
pages are not the same memory. Past it, the least recently used are dropped (and decoded
again if asked for).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

Value = TypeVar("Value")


class DecodedCache(Generic[Value]):
    """``key -> (checksum, value)``, holding at most ``limit`` bytes (as the caller sizes each
    value), least recently used dropped first. Safe to use from several threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: OrderedDict[bytes, tuple[bytes, Value, int]] = OrderedDict()
        self._bytes = 0
        # NOTE: a networked store's thread and the event loop's both read and fill it.
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        """The bytes of the values held now (never above ``limit``)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes, checksum: bytes) -> Value | None:
        """The value decoded for ``key`` when it was the version of ``checksum``, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != checksum:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def latest(self, key: bytes) -> tuple[bytes, Value] | None:
        """The checksum and value held for ``key`` whatever its version, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0], entry[1]

    def put(self, key: bytes, checksum: bytes, value: Value, size: int) -> None:
        """Keep ``value`` (of ``size`` bytes) as ``key``'s, dropping the least recently used
        past the limit; a value larger than the whole limit is not kept."""
        with self._lock:
            self._drop(key)
            if size > self.limit:
                return
            self._entries[key] = (checksum, value, size)
            self._bytes += size
            while self._bytes > self.limit:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def discard(self, key: bytes) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]
