"""What the strategies share while a site is served: the renderer, the pools for sync user
code, the mutable store with its regeneration machinery, and the site's built bodies and
error pages.

Opened once per worker (after granian forks), closed when the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..app import PerseusApp
from ..errors import ConfigurationError, HTTPError, Overloaded, Redirect, StoreError, TagError, status_for
from ..http.bodies import PER_REQUEST_CACHE
from ..http.caching import CachePolicy
from ..http.fingerprints import hashed_names
from ..http.location import location_for
from ..http.response import Response
from ..settings import Settings
from ..stores.configured import check_store_reachable, open_mutable_store
from ..stores.immutable import Dist, mutable_location
from ..stores.lmdb_store import location_is_writable
from ..stores.records import NotCached, PageRecords, PageVersion
from ..tracebacks import frame_lines, user_frame
from .built import Bodies, ErrorPages
from .deadlines import Deadlines
from .dev_reload import overlay_answer
from .generate import generate_version
from .metrics import Metrics
from .pages import PageRequest
from .pools import UserPool
from .redirects import redirect_answer
from .regeneration import IncrementalGenerator, PageRef, Revalidator, StoreCall
from .render import PageRenderer, load_translators
from .store_trouble import StoreTrouble

log = logging.getLogger("perseus.request")
# Background regenerations run at most max_concurrent_generations at once; their sync calls
# get threads of their own, so a hung regeneration never holds a request's thread.
BACKGROUND_THREADS = 8
# A store that waits on the network (Redis) is called from these threads, never the loop.
STORE_THREADS = 8
RETRY_AFTER = [("retry-after", "1")]
MaybeResponse = Response | Awaitable[Response]
AnswerWith = Callable[[PageVersion | None], MaybeResponse]


async def call_inline(function: Callable[..., Any], *args: Any) -> Any:
    """A local store's call (LMDB: microseconds), made on the event loop."""
    return function(*args)


def check_mutable_store(app: PerseusApp, dist_path: Path, settings: Settings) -> None:
    """Fail unless the mutable store can be written, when some template needs it.

    Raises:
        ConfigurationError: naming the templates and how to move the store.
        StoreError: ``PERSEUS_STORE`` names a Redis that does not answer.
    """
    needing = [t.name for t in app.templates if t.uses_mutable_store]
    location = mutable_location(dist_path, settings.mutable_dir)
    if needing and not location_is_writable(location):
        names = ", ".join(f"'{name}'" for name in needing)
        raise ConfigurationError(
            f"template(s) {names} use revalidation or incremental generation, which store pages in"
            f" the mutable store, but {location} is not writable (a read-only filesystem?): set"
            " PERSEUS_MUTABLE_DIR to a writable directory, or remove revalidate_after,"
            " should_revalidate and incremental from those templates"
        )
    if needing:
        check_store_reachable(settings)


class Runtime:
    """The services of one served site, handed to every strategy module."""

    def __init__(self, app: PerseusApp, dist: Dist, base_path: str, default_locale: str,
                 settings: Settings) -> None:
        self.app = app
        self.dist = dist
        self.base_path = base_path
        self.bodies = Bodies(dist)
        self.policy = CachePolicy(settings.cdn_max_age, settings.cdn_swr)
        # PERF: the Cache-Control of each template's stored versions, decided once, not per answer.
        self.stored_cache_control = {template.name: self.policy.of(template.revalidates,
                                                                   template.revalidate_after, False)
                                     for template in app.templates}
        self.request_timeout = settings.request_timeout
        self.deadlines = Deadlines(settings.request_timeout)
        # Sync user code a visitor waits on, and background regenerations: separate threads.
        self.pool = UserPool("request", settings.request_threads, settings.request_timeout)
        self.background = UserPool("regeneration", BACKGROUND_THREADS, settings.generation_timeout)
        self.store_trouble = StoreTrouble()
        self.metrics: Metrics | None = None
        self.store_pool: UserPool | None = None
        self.store_call: StoreCall = call_inline
        # In watch mode, pages rendered at request time carry the reload script like built ones.
        self.dev_reload = settings.dev_reload
        reload_id = dist.build_id if settings.dev_reload else None
        self.renderer = PageRenderer(app, dist.global_state, base_path, load_translators(app),
                                     build_id=dist.build_id, reload_build_id=reload_id,
                                     static_files=hashed_names(dist.render_conf.get("static", {})))
        self.errors = ErrorPages(dist, self.bodies, default_locale, self.renderer.render_error)
        self.records: PageRecords | None = None
        self.revalidator: Revalidator | None = None
        self.generator: IncrementalGenerator | None = None
        if any(t.uses_mutable_store for t in app.templates):
            check_mutable_store(app, dist.path, settings)
            store = open_mutable_store(mutable_location(dist.path, settings.mutable_dir), settings)
            self.records = PageRecords(store, dist.build_id, settings.page_cache_bytes)
            if store.network:
                self.store_pool = UserPool("store", STORE_THREADS, settings.redis_timeout)
                self.store_call = self._call_store
            self.revalidator = Revalidator(
                self.records, self.regenerate, self.background, self.store_call, self.store_trouble,
                timeout=settings.generation_timeout, check_timeout=settings.request_timeout,
                backoff=settings.retry_backoff)
            self.generator = IncrementalGenerator(
                self.records, self.generate, self.store_call, self.store_trouble,
                timeout=settings.request_timeout, max_pages=settings.max_generated_pages)
        # ISR-06: a flood of new paths runs at most this many generations at once per worker
        # (the others wait, within the generation timeout).
        self.generation_slots = asyncio.Semaphore(settings.max_concurrent_generations)

    async def generate(self, ref: PageRef) -> PageVersion:
        """A new version of ``ref``'s page, for a visitor waiting on it: build state, rendered."""
        return await self._generate(ref, self.pool, "generation", compress=False)

    async def regenerate(self, ref: PageRef) -> PageVersion:
        """``generate`` in the background (a due page), in threads of its own."""
        return await self._generate(ref, self.background, "regeneration")

    async def _generate(self, ref: PageRef, pool: UserPool, kind: str, compress: bool = True) -> PageVersion:
        async with self.generation_slots:
            generating = generate_version(ref.template, ref.path, ref.locale, ref.extra, self.renderer,
                                          pool, self.dist.build_id, compress)
            if self.metrics is None:
                return await generating
            version: PageVersion = await self.metrics.generation(kind, generating)
            return version

    def observe(self, metrics: Metrics | None) -> None:
        """Count generations, failed answers and store failures in ``metrics`` (None: not at all)."""
        self.metrics = metrics
        if metrics is not None:
            self.store_trouble.on_failure = metrics.store_error

    async def _call_store(self, function: Callable[..., Any], *args: Any) -> Any:
        assert self.store_pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self.store_pool, function, *args)
        except Overloaded as exc:  # every store thread waits on a slow store: fail like it
            raise StoreError(f"the mutable store is slow: {exc}") from None

    def with_stored(self, ref: PageRef, answer: AnswerWith) -> MaybeResponse:
        """``answer`` given ``ref``'s stored version, or None (none stored, or the store
        failing: noted, and the caller serves what it can without it).

        PERF: from LMDB, or this machine's copy of a networked store, the version is read
        on the loop and ``answer`` called at once; otherwise it is fetched off the loop.
        """
        records = self.records
        assert records is not None
        try:
            if self.store_pool is None:
                version = records.get(ref.locale, ref.full, ref.key)
            else:
                version = records.cached(ref.locale, ref.full, ref.key)
        except NotCached:
            return self._fetch_then(ref, answer)
        except StoreError as error:
            self.store_trouble.report(f"cannot read '/{ref.full}' from the store", error)
            version = None
        return answer(version)

    async def _fetch_then(self, ref: PageRef, answer: AnswerWith) -> Response:
        assert self.records is not None
        try:
            version = await self.store_call(self.records.get, ref.locale, ref.full, ref.key)
        except StoreError as error:
            self.store_trouble.report(f"cannot read '/{ref.full}' from the store", error)
            version = None
        result = answer(version)
        return result if isinstance(result, Response) else await result

    def failed(self, error: Exception, request: PageRequest) -> Response:
        """The answer for user code raising (or the store failing) on ``request``, logged
        unless the code meant it: a ``Redirect`` or ``HTTPError`` is answered as raised."""
        page = request.page
        if isinstance(error, Redirect):
            location = location_for(error.location, error.external, self.base_path)
            return redirect_answer(error.status, location, request.method, request.form, PER_REQUEST_CACHE)
        status = status_for(error)
        if self.metrics is not None:
            self.metrics.failed(status)
        detail = None
        if isinstance(error, HTTPError):
            detail = error.message
            if status >= 500:
                log.warning("page '/%s' answered %d: its state function raised HTTPError", page.full, status)
        elif status == 504:
            log.error("page '/%s' took longer than PERSEUS_REQUEST_TIMEOUT=%gs: answered 504"
                      " (%d sync call(s) still running past their deadline in this worker)",
                      page.full, self.request_timeout, self.pool.hung)
        elif isinstance(error, Overloaded):
            log.error("page '/%s' answered 503: %s", page.full, error)
        elif status >= 500:
            frame = user_frame(error)
            at = f" (at {frame.where()})" if frame is not None else ""
            if self.dev_reload:  # the user's frames only, as the overlay shows them
                frames = frame_lines(error)
                log.error("page '/%s' failed: %s: %s%s%s", page.full, type(error).__name__, error, at,
                          "\n" + frames if frames else "")
                # NOTE: the page's JSON too: an answer that is not JSON makes the client load
                # the page in full, which shows the overlay (an error view's JSON it would show).
                return overlay_answer(page.full, error, request.method, self.base_path,
                                      self.dist.build_id)
            else:
                log.error("page '/%s' failed: %s: %s%s", page.full, type(error).__name__, error, at,
                          exc_info=not isinstance(error, (StoreError, TagError)))
        answer = self.errors.answer(status, request.method, request.form, page.locale, detail,
                                    request.headers.get("accept-encoding"))
        if isinstance(error, Overloaded):
            answer = Response(503, answer.headers + RETRY_AFTER, answer.body)
        return answer

    def close(self) -> None:
        """Stop the user-code threads (not waiting for hung ones) and flush the store."""
        for pool in (self.pool, self.background, self.store_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        if self.records is not None:
            self.records.store.close()
