"""Generating page versions single-flight, across every worker: in the background when a
revalidating page is due, and on the first request of an unbuilt incremental path.

Revalidation: a due page is answered at once with the version there is;
``Revalidator.schedule`` starts at most one background regeneration per page in this
process, and a lease in the mutable store makes it one per machine. A regeneration that
raises or outlives its timeout leaves the last good version in place and holds the lease
for a backoff, so no worker retries before it ends.

Incremental generation: concurrent first requests in one worker share one generation (a
future per page); across workers the lease decides who generates while the others wait
for the record to appear. ``NotFound``, ``HTTPError``, ``Redirect`` and errors store
nothing, so a path can still be generated later and unknown paths never grow the store; nor do valid ones past
``max_pages`` stored pages (served, generated again per request, never kept). A store
that cannot be read, leased or written costs no answer: the page is generated and
served, unkept (``StoreTrouble`` logs it).

Every store call goes through ``store_call``: inline for LMDB, off the event loop for a
store that waits on the network (Redis).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from perseus_core.plan import DUE_ON_DEMAND

from ..context import RenderContext, StateInfo
from ..errors import HTTPError, NotFound, Redirect, StoreError
from ..http.response import GENERATED, HIT, MISS
from ..request import Request
from ..stores.mutable import MutableStore, lease_owner
from ..stores.records import PageRecords, PageVersion, page_key
from ..template import Template
from .calls import call_user
from .store_trouble import StoreTrouble

log = logging.getLogger("perseus.revalidate")
incremental_log = logging.getLogger("perseus.incremental")
# How often a worker waiting on another worker's generation looks for its record.
POLL_SECONDS = 0.01
MAX_POLL_SECONDS = 0.1
MAX_BACKOFF = 30.0
# A lease outlives the timeout a little, so its holder can still commit and release it.
LEASE_MARGIN = 5.0
LEASE_RECHECK = 1.0


def is_gone(error: BaseException) -> bool:
    """Whether a regeneration's error says the page is no more: ``NotFound``, a 404 or 410
    ``HTTPError``, or a ``Redirect`` (nothing of which is ever stored as a page)."""
    if isinstance(error, HTTPError):
        return error.status in (404, 410)
    return isinstance(error, (NotFound, Redirect))


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
StoreCall = Callable[..., Awaitable[Any]]


class Generator:
    """What both kinds of generation share: the page records (and their store), how store
    calls are made (``store_call``), where store failures are noted, this process's lease
    name, and the generation function with its timeout."""

    def __init__(self, records: PageRecords, generate: Generate, store_call: StoreCall,
                 trouble: StoreTrouble, timeout: float) -> None:
        self.records = records
        self.store: MutableStore = records.store
        self.generate = generate
        self.store_call = store_call
        self.trouble = trouble
        self.timeout = timeout
        self.owner = lease_owner()

    async def _release(self, page: PageRef) -> None:
        """Give up ``page``'s lease; if the store is away, note it (the lease expires on its own)."""
        try:
            await self.store_call(self.store.release_lease, page.key, self.owner)
        except StoreError as exc:
            self.trouble.report(f"cannot release the lease of '/{page.full}'", exc)


class Revalidator(Generator):
    """Runs background regenerations of due pages, single-flight per page."""

    def __init__(self, records: PageRecords, generate: Generate, pool: Executor, store_call: StoreCall,
                 trouble: StoreTrouble, *, timeout: float, check_timeout: float, backoff: float) -> None:
        super().__init__(records, generate, store_call, trouble, timeout)
        self.pool = pool
        self.check_timeout = check_timeout  # should_revalidate runs under the request timeout
        self.backoff = backoff
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
        call = self.store_call
        try:
            lease = await call(self.store.acquire_lease, key, self.owner, self.timeout + LEASE_MARGIN,
                               time.time())
        except StoreError as exc:
            self.trouble.report(f"cannot take the regeneration lease of '/{page.full}'", exc)
            self._not_before[key] = time.time() + self.backoff
            return
        if not lease.acquired:
            # Another worker is on it (or backing off after a failure): look again soon,
            # or when its lease ends if that is sooner.
            self._not_before[key] = min(lease.expires_at, time.time() + LEASE_RECHECK)
            return
        try:
            current = await call(self.records.get, page.locale, page.full)
            if current is not None and current.generated_at > based_on:
                await self._release(page)
                return
            # NOTE: a page marked by `perseus revalidate` is regenerated whatever the logic says.
            marked = current is not None and current.due_at == DUE_ON_DEMAND
            if not marked:
                try:
                    wanted = await self._should_revalidate(page, request)
                except Exception as exc:  # NOTE: a Redirect or HTTPError here is no answer, only a failure
                    await self._failed(page, exc, "should_revalidate")
                    return
                if not wanted:
                    await self._release(page)
                    return
            async with asyncio.timeout(self.timeout):
                version = await self.generate(page)
            await call(self.records.put, version)
        except (NotFound, HTTPError, Redirect) as exc:
            if page.built or not is_gone(exc):
                await self._failed(page, exc)
                return
            # ISR-05: a generated page whose source is gone (or moved) is removed; its path
            # answers 404, 410 or the redirect (nothing stored) until the source has it again.
            log.warning("'/%s' (%s) is gone (%s): removed from the store", page.full, page.locale, exc)
            try:
                await call(self.records.delete, page.locale, page.full)
            except StoreError as store_error:
                await self._failed(page, store_error)
                return
        except Exception as exc:
            await self._failed(page, exc)
            return
        self._failures.pop(key, None)
        self.trouble.recovered()
        await self._release(page)

    async def _should_revalidate(self, page: PageRef, request: Request | None) -> bool:
        check = page.template.should_revalidate
        if check is None:
            return True
        async with asyncio.timeout(self.check_timeout):
            answer = await call_user(check, page.info, request, pool=self.pool)
        return bool(answer)

    async def _failed(self, page: PageRef, error: BaseException, stage: str = "") -> None:
        # ISR-01: the last good version stays; retry after a growing backoff.
        failures = self._failures.get(page.key, 0) + 1
        self._failures[page.key] = failures
        backoff = min(self.backoff * 2 ** (failures - 1), MAX_BACKOFF)
        until = time.time() + backoff
        self._not_before[page.key] = until
        if isinstance(error, StoreError):
            self.trouble.report(f"regenerating '/{page.full}' ({page.locale}): the new version cannot be"
                                f" stored; serving the last good version, retrying in {backoff:.1f}s", error)
        else:
            what = ("timed out" if isinstance(error, TimeoutError)
                    else f"raised {type(error).__name__}: {error}")
            if stage:
                what = f"{stage} {what}"
            elif is_gone(error):
                what = (f"raised {type(error).__name__} ({error}), which a built page cannot become"
                        " before the next build")
            log.error("regenerating '/%s' (%s) %s; serving the last good version, retrying in %.1fs",
                      page.full, page.locale, what, backoff)
        try:
            await self.store_call(self.store.hold_lease, page.key, self.owner, until)
        except StoreError as exc:
            self.trouble.report(f"cannot hold the regeneration lease of '/{page.full}'", exc)


class IncrementalGenerator(Generator):
    """Generates unbuilt pages single-flight and stores them."""

    def __init__(self, records: PageRecords, generate: Generate, store_call: StoreCall,
                 trouble: StoreTrouble, *, timeout: float, max_pages: int) -> None:
        super().__init__(records, generate, store_call, trouble, timeout)
        self.max_pages = max_pages
        self.unstored = 0  # pages served but not kept because the store was at max_pages
        self._in_flight: dict[bytes, asyncio.Future[tuple[PageVersion, str]]] = {}

    async def page(self, page: PageRef) -> tuple[PageVersion, str]:
        """The stored version of ``page``, generating it first if there is none, with its
        cache status: GENERATED (generated and stored), MISS (generated but not kept: the
        store failed or is full) or HIT (another worker's, found meanwhile).

        Raises:
            NotFound: the state function said the path does not exist.
            TimeoutError: generation took longer than the timeout.
            Overloaded: every thread for sync user code is busy.
            Exception: whatever the state function or view raised.
        """
        shared = self._in_flight.get(page.key)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[tuple[PageVersion, str]] = asyncio.get_running_loop().create_future()
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

    async def _generate_once(self, page: PageRef) -> tuple[PageVersion, str]:
        deadline = time.monotonic() + self.timeout + LEASE_MARGIN
        pause = POLL_SECONDS
        call = self.store_call
        while True:
            try:
                # PERF: "stored meanwhile? else the lease": one transaction in LMDB.
                existing, lease = await call(self.records.claim, page.locale, page.full, page.key,
                                             self.owner, self.timeout + LEASE_MARGIN, time.time())
            except StoreError as exc:
                # STORE-01: with the store away the page is still generated and served, unkept.
                self.trouble.report(f"cannot look up or lease the generated page '/{page.full}'", exc)
                return await self._generate(page), MISS
            if existing is not None:
                if lease.acquired:
                    await self._release(page)
                return existing, HIT
            if lease.acquired:
                released = False
                try:
                    version, cache, released = await self._generate_and_store(page)
                    return version, cache
                finally:
                    if not released:
                        await self._release(page)
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited too long for another worker to generate '/{page.full}'")
            # Another worker is generating this page: wait for its record.
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)

    async def _generate(self, page: PageRef) -> PageVersion:
        async with asyncio.timeout(self.timeout):
            return await self.generate(page)

    async def _generate_and_store(self, page: PageRef) -> tuple[PageVersion, str, bool]:
        """The new version, its cache status, and whether its lease was let go of already."""
        version = await self._generate(page)
        try:
            stored, released = await self.store_call(self.records.put_releasing, version, self.owner,
                                                     self.max_pages)
        except StoreError as exc:
            # STORE-01: the fresh page is still served, just not kept.
            self.trouble.report(f"could not store the generated page '/{page.full}'", exc)
            return version, MISS, False
        if not stored:
            self._not_stored(page)
            return version, MISS, released
        self.trouble.recovered()
        return version, GENERATED, released

    def _not_stored(self, page: PageRef) -> None:
        # ISR-06: past the bound a new path is still served (generated per request), never kept,
        # so random paths cannot grow the store; logged on the first and every 1000th time.
        if self.unstored % 1000 == 0:
            incremental_log.warning(
                "the mutable store holds PERSEUS_MAX_GENERATED_PAGES=%d pages: '/%s' was generated but"
                " not stored (%d so far in this worker)", self.max_pages, page.full, self.unstored + 1)
        self.unstored += 1
