"""Store failures that cost no answer: a page generated while the store cannot keep it
(full disk, LMDB map at its limit, store bound, Redis down or slow) is served all the
same, and a stored page that cannot be read is served from what the build made.

Such a failure can repeat on every request; it is logged once per interval with its
cause and what to do, counted, and its end is logged when the store works again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("perseus.store")
LOG_INTERVAL = 60.0
REMEDY = ("pages are still served (generated again per request while they cannot be kept);"
          " storing resumes by itself when the store recovers: free disk space, raise"
          " PERSEUS_LMDB_MAP_SIZE, or bring Redis back (PERSEUS_STORE)")


class StoreTrouble:
    """Counts store failures and logs them at most once per ``LOG_INTERVAL`` seconds."""

    def __init__(self) -> None:
        self.failures = 0
        self._unlogged = 0
        self._logged_at = -LOG_INTERVAL
        self._failing = False
        self.on_failure: Callable[[], None] | None = None  # metrics, when on

    def report(self, what: str, error: Exception) -> None:
        """Note that ``what`` failed with ``error`` (a ``StoreError``) and the answer went on."""
        self.failures += 1
        self._failing = True
        if self.on_failure is not None:
            self.on_failure()
        now = time.monotonic()
        if now - self._logged_at < LOG_INTERVAL:
            self._unlogged += 1
            return
        also = f" ({self._unlogged} more store failures since the last report)" if self._unlogged else ""
        log.error("%s: %s%s; %s", what, error, also, REMEDY)
        self._logged_at, self._unlogged = now, 0

    def recovered(self) -> None:
        """Note a store call that worked (cheap when nothing had failed)."""
        if self._failing:
            self._failing = False
            log.warning("the mutable store works again (%d failures so far in this worker)", self.failures)
