"""What the strategies share while a site is served: the renderer, the user-code pool, the
mutable store with its regeneration machinery, and the site's built bodies and error pages.

Opened once per worker (after granian forks), closed when the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..app import PerseusApp
from ..errors import ConfigurationError, StoreError, status_for
from ..http.response import Response
from ..settings import Settings
from ..stores.configured import check_store_reachable, open_mutable_store
from ..stores.immutable import Dist, mutable_location
from ..stores.lmdb_store import location_is_writable
from ..stores.records import PageRecords, PageVersion
from .built import Bodies, ErrorPages
from .generate import generate_version
from .pages import PageRequest
from .regeneration import IncrementalGenerator, PageRef, Revalidator
from .render import PageRenderer, load_translators

log = logging.getLogger("perseus.request")
USER_THREADS = 16


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
        self.bodies = Bodies(dist)
        self.errors = ErrorPages(dist, self.bodies, default_locale)
        self.pool = ThreadPoolExecutor(USER_THREADS, thread_name_prefix="perseus-user")
        # In watch mode, pages rendered at request time carry the reload script like built ones.
        reload_id = dist.build_id if settings.dev_reload else None
        self.renderer = PageRenderer(app, dist.global_state, base_path, load_translators(app),
                                     reload_build_id=reload_id)
        self.records: PageRecords | None = None
        self.revalidator: Revalidator | None = None
        self.generator: IncrementalGenerator | None = None
        if any(t.uses_mutable_store for t in app.templates):
            check_mutable_store(app, dist.path, settings)
            store = open_mutable_store(mutable_location(dist.path, settings.mutable_dir), settings)
            self.records = PageRecords(store, dist.build_id)
            timeout = settings.generation_timeout
            self.revalidator = Revalidator(store, self.records, self.generate, self.pool,
                                           timeout=timeout, backoff=settings.retry_backoff)
            self.generator = IncrementalGenerator(store, self.records, self.generate, timeout=timeout,
                                                  max_pages=settings.max_generated_pages)
        # ISR-06: a flood of new paths runs at most this many generations at once per worker
        # (the others wait, within the generation timeout).
        self.generation_slots = asyncio.Semaphore(settings.max_concurrent_generations)

    async def generate(self, ref: PageRef) -> PageVersion:
        """A new version of ``ref``'s page: its build state, rendered."""
        async with self.generation_slots:
            return await generate_version(ref.template, ref.path, ref.locale, ref.extra, self.renderer,
                                          self.pool, self.dist.build_id)

    def failed(self, error: Exception, request: PageRequest) -> Response:
        """The error answer for user code (or the store) failing on ``request``, logged."""
        status = status_for(error)
        page = request.page
        if status >= 500:
            log.error("page '/%s' failed: %s: %s", page.full, type(error).__name__, error,
                      exc_info=not isinstance(error, (TimeoutError, StoreError)))
        return self.errors.answer(status, request.method, request.form, page.locale)

    def close(self) -> None:
        """Stop the user-code threads (not waiting for hung ones) and flush the store."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.records is not None:
            self.records.store.close()
