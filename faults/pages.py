"""Reading the faults site's answers and its mutable store the way a scenario checks them."""

from __future__ import annotations

import re
import time
from pathlib import Path

from faults.client import Answer
from perseus.stores.lmdb_store import LMDBStore
from perseus.stores.mutable import lease_owner
from perseus.stores.records import decode_record, page_key

_GENERATION = re.compile(rb'<p id="gen">([^<]+)</p>')


def generation_of(body: bytes) -> str | None:
    """Which generation made a page of the faults site (process, counter, clock)."""
    found = _GENERATION.search(body)
    return found.group(1).decode() if found else None


def is_page(answer: Answer) -> bool:
    """A whole 200 page of the faults site."""
    return answer.status == 200 and generation_of(answer.body) is not None


class StoreCheck:
    """What the LMDB mutable store at ``path`` holds, read with perseus's own store API."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def torn(self) -> list[bytes]:
        """Keys of stored records that do not decode whole (bad framing or checksum)."""
        store = LMDBStore(str(self.path))
        try:
            return [key for key, value in store.items() if decode_record(value) is None]
        finally:
            store.close()

    def generations(self, pages: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The generation stored for each (locale, path); None where none is stored whole."""
        store = LMDBStore(str(self.path))
        found: dict[tuple[str, str], str | None] = {}
        try:
            for locale, path in pages:
                value = store.read_or_none(page_key(locale, path))
                version = decode_record(value) if value is not None else None
                found[(locale, path)] = generation_of(version.html) if version is not None else None
        finally:
            store.close()
        return found

    def blocked_leases(self, pages: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Pages whose single-flight lease nobody can take now (call it with every server gone:
        a lease of a dead holder must be free at once, whatever its expiry says)."""
        store = LMDBStore(str(self.path))
        owner = lease_owner()
        blocked = []
        try:
            for locale, path in pages:
                key = page_key(locale, path)
                if store.acquire_lease(key, owner, 1.0, time.time()).acquired:
                    store.release_lease(key, owner)
                else:
                    blocked.append((locale, path))
        finally:
            store.close()
        return blocked
