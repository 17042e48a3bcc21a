"""Incremental generation: an unbuilt path is generated on its first request, once.

Concurrent first requests in one worker share one generation (a future per page);
across workers the mutable store's lease decides who generates while the others wait
for the record to appear. ``NotFound`` and errors store nothing, so a path can still
be generated later and unknown paths never grow the store; nor do valid ones past
``max_pages`` stored pages (served, generated again per request, never kept).
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..errors import StoreError
from ..stores.mutable import MutableStore, lease_owner
from ..stores.records import PageRecords, PageVersion
from .revalidate import LEASE_MARGIN, Generate, PageRef, release_lease

log = logging.getLogger("perseus.incremental")
# How often a worker waiting on another worker's generation looks for its record.
POLL_SECONDS = 0.01
MAX_POLL_SECONDS = 0.1


class IncrementalGenerator:
    """Generates unbuilt pages single-flight and stores them."""

    def __init__(self, store: MutableStore, records: PageRecords, generate: Generate, *,
                 timeout: float, max_pages: int) -> None:
        self.store = store
        self.records = records
        self.generate = generate
        self.timeout = timeout
        self.max_pages = max_pages
        self.unstored = 0  # pages served but not kept because the store was at max_pages
        self.owner = lease_owner()
        self._in_flight: dict[bytes, asyncio.Future[PageVersion]] = {}

    async def page(self, page: PageRef) -> PageVersion:
        """The stored version of ``page``, generating it first if there is none.

        Raises:
            NotFound: the state function said the path does not exist.
            TimeoutError: generation took longer than the timeout.
            Exception: whatever the state function or view raised.
        """
        shared = self._in_flight.get(page.key)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[PageVersion] = asyncio.get_running_loop().create_future()
        self._in_flight[page.key] = future
        try:
            version = await self._generate_once(page)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # NOTE: marks it retrieved when nobody else waited on it
            raise
        finally:
            self._in_flight.pop(page.key, None)
        future.set_result(version)
        return version

    async def _generate_once(self, page: PageRef) -> PageVersion:
        deadline = time.monotonic() + self.timeout + LEASE_MARGIN
        pause = POLL_SECONDS
        while True:
            existing = self.records.get(page.locale, page.full)
            if existing is not None:
                return existing
            lease = self.store.acquire_lease(page.key, self.owner, self.timeout + LEASE_MARGIN, time.time())
            if lease.acquired:
                try:
                    return await self._generate_and_store(page)
                finally:
                    release_lease(self.store, page, self.owner)
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited too long for another worker to generate '/{page.full}'")
            # Another worker is generating this page: wait for its record.
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)

    async def _generate_and_store(self, page: PageRef) -> PageVersion:
        existing = self.records.get(page.locale, page.full)  # finished while we took the lease
        if existing is not None:
            return existing
        version = await asyncio.wait_for(self.generate(page), self.timeout)
        try:
            if self.store.count() >= self.max_pages:
                self._not_stored(page)
                return version
            self.records.put(version)
        except StoreError as exc:
            # STORE-01: the fresh page is still served, just not kept.
            log.error("could not store the generated page '/%s': %s", page.full, exc)
        return version

    def _not_stored(self, page: PageRef) -> None:
        # ISR-06: past the bound a new path is still served (generated per request), never kept,
        # so random paths cannot grow the store; logged on the first and every 1000th time.
        if self.unstored % 1000 == 0:
            log.warning("the mutable store holds PERSEUS_MAX_GENERATED_PAGES=%d pages: '/%s' was"
                        " generated but not stored (%d so far in this worker)",
                        self.max_pages, page.full, self.unstored + 1)
        self.unstored += 1
