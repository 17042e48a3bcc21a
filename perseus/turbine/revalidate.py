"""Revalidation: stale-while-revalidate, one regeneration per page across every worker.

A due page is answered at once with the version there is; ``Revalidator.schedule``
starts at most one background regeneration per page in this process, and a lease in
the mutable store makes it one per machine. A regeneration that raises or outlives
its timeout leaves the last good version in place and holds the lease for a backoff,
so no worker retries before it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from perseus_core.plan import DUE_ON_DEMAND

from ..context import RenderContext, StateInfo
from ..errors import NotFound, StoreError
from ..request import Request
from ..stores.mutable import MutableStore, lease_owner
from ..stores.records import PageRecords, PageVersion, page_key
from ..template import Template
from .calls import call_user

log = logging.getLogger("perseus.revalidate")
MAX_BACKOFF = 30.0
# A lease outlives the timeout a little, so its holder can still commit and release it.
LEASE_MARGIN = 5.0
LEASE_RECHECK = 1.0


class PageRef:
    """Which page to regenerate: template, sub-path, locale, the template's helper state.

    ``built`` is False for a page incremental generation created at request time.
    """

    __slots__ = ("template", "path", "locale", "extra", "built", "full", "key", "info", "context")

    def __init__(self, template: Template, path: str, locale: str, extra: object, built: bool = True) -> None:
        self.template = template
        self.path = path
        self.locale = locale
        self.extra = extra
        self.built = built
        self.full = template.full_path(path)
        self.key = page_key(locale, self.full)
        # PERF: both immutable, made once per page rather than per request.
        self.info = StateInfo(path, locale, extra)
        self.context: RenderContext | None = None  # set by the first render with build global state


Generate = Callable[[PageRef], Awaitable[PageVersion]]


def release_lease(store: MutableStore, page: PageRef, owner: str) -> None:
    """Give up ``page``'s lease; if the store is away, log it (the lease expires on its own)."""
    try:
        store.release_lease(page.key, owner)
    except StoreError as exc:
        log.error("cannot release the lease of '/%s': %s", page.full, exc)


class Revalidator:
    """Runs background regenerations of due pages, single-flight per page."""

    def __init__(self, store: MutableStore, records: PageRecords, generate: Generate,
                 pool: ThreadPoolExecutor, *, timeout: float, backoff: float) -> None:
        self.store = store
        self.records = records
        self.generate = generate
        self.pool = pool
        self.timeout = timeout
        self.backoff = backoff
        self.owner = lease_owner()
        self._running: dict[bytes, asyncio.Task[None]] = {}
        self._not_before: dict[bytes, float] = {}
        self._failures: dict[bytes, int] = {}

    def schedule(self, page: PageRef, request: Request | None, based_on: float, now: float) -> None:
        """Regenerate ``page`` in the background unless that is already under way or backing off.

        ``based_on`` is when the version being served was generated: if the store has a
        newer one by the time the lease is taken, another worker already did the work.
        """
        key = page.key
        if key in self._running or now < self._not_before.get(key, 0.0):
            return
        task = asyncio.get_running_loop().create_task(self._revalidate(page, request, based_on))
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))

    async def _revalidate(self, page: PageRef, request: Request | None, based_on: float) -> None:
        key = page.key
        try:
            lease = self.store.acquire_lease(key, self.owner, self.timeout + LEASE_MARGIN, time.time())
        except StoreError as exc:
            log.error("cannot take the regeneration lease of '/%s': %s", page.full, exc)
            self._not_before[key] = time.time() + self.backoff
            return
        if not lease.acquired:
            # Another worker is on it (or backing off after a failure): look again soon,
            # or when its lease ends if that is sooner.
            self._not_before[key] = min(lease.expires_at, time.time() + LEASE_RECHECK)
            return
        try:
            current = self.records.get(page.locale, page.full)
            if current is not None and current.generated_at > based_on:
                self._release(page)
                return
            # NOTE: a page marked by `perseus revalidate` is regenerated whatever the logic says.
            marked = current is not None and current.due_at == DUE_ON_DEMAND
            if not marked and not await self._should_revalidate(page, request):
                self._release(page)
                return
            version = await asyncio.wait_for(self.generate(page), self.timeout)
            self.records.put(version)
        except NotFound as exc:
            if page.built:
                self._failed(page, exc)
                return
            # ISR-05: a generated page whose source is gone is removed; its path answers
            # 404 (nothing stored) until the source has it again.
            log.warning("'/%s' (%s) is gone (NotFound): removed from the store", page.full, page.locale)
            self.records.delete(page.locale, page.full)
        except Exception as exc:
            self._failed(page, exc)
            return
        self._failures.pop(key, None)
        self._release(page)

    def _release(self, page: PageRef) -> None:
        release_lease(self.store, page, self.owner)

    async def _should_revalidate(self, page: PageRef, request: Request | None) -> bool:
        check = page.template.should_revalidate
        if check is None:
            return True
        answer = await asyncio.wait_for(call_user(check, page.info, request, pool=self.pool), self.timeout)
        return bool(answer)

    def _failed(self, page: PageRef, error: BaseException) -> None:
        # ISR-01: the last good version stays; retry after a growing backoff.
        failures = self._failures.get(page.key, 0) + 1
        self._failures[page.key] = failures
        backoff = min(self.backoff * 2 ** (failures - 1), MAX_BACKOFF)
        until = time.time() + backoff
        self._not_before[page.key] = until
        what = "timed out" if isinstance(error, TimeoutError) else f"raised {type(error).__name__}: {error}"
        if isinstance(error, NotFound):
            what = "raised NotFound, which a built page cannot be"
        log.error("regenerating '/%s' (%s) %s; serving the last good version, retrying in %.1fs",
                  page.full, page.locale, what, backoff)
        try:
            self.store.hold_lease(page.key, self.owner, until)
        except StoreError as exc:
            log.error("cannot hold the regeneration lease of '/%s': %s", page.full, exc)
