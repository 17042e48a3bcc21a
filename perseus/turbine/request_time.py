"""Pages answered at request time: request state, amalgamation, revalidation, incremental generation.

``RequestTime`` asks ``perseus_core.plan`` what to do for a page and does it. Answers
that need no user code (a stored or built version, even a stale one whose
regeneration it starts in the background) are returned as a ``Response``; the others
as an awaitable of one, which the server adapter awaits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson

from perseus_core.plan import (
    BUILT_PAGE,
    GENERATE,
    PER_REQUEST,
    REVALIDATE,
    SOURCE,
    STORED,
    UNBUILT_PAGE,
    RecordMeta,
    plan,
)

from ..app import PerseusApp
from ..context import StateInfo
from ..errors import ConfigurationError, StoreError, status_for
from ..request import Request
from ..server.dev_reload import dev_reload_enabled
from ..server.response import Response, etag_matches
from ..stores.configured import check_store_reachable, open_mutable_store
from ..stores.immutable import Dist, mutable_location
from ..stores.lmdb_store import location_is_writable
from ..stores.records import PageRecords, PageVersion
from .build import load_translators
from .calls import call_user
from .generate import generate_version
from .incremental import IncrementalGenerator
from .render import BUILT_PAGE_CACHE, HTML_TYPE, JSON_TYPE, PageRenderer, page_json
from .revalidate import PageRef, Revalidator

if TYPE_CHECKING:
    from .serve import Engine

log = logging.getLogger("perseus.request")
# SECURITY: a page rendered from one request is never stored or shared (ISR-09).
PER_REQUEST_CACHE = "private, no-store"
PER_REQUEST_HTML_HEADERS = [("content-type", HTML_TYPE), ("cache-control", PER_REQUEST_CACHE)]
PER_REQUEST_JSON_HEADERS = [("content-type", JSON_TYPE), ("cache-control", PER_REQUEST_CACHE)]
USER_THREADS = 16
# How a template's request state runs: async functions awaited on the loop; sync ones in
# the thread pool, or inline on the loop for templates declared ``blocking=False``.
ON_LOOP, IN_POOL, INLINE = 0, 1, 2
CONCURRENT_GENERATIONS = 8
MAX_STORED_PAGES = 100_000
MaybeResponse = Response | Awaitable[Response]


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}") from None


def _count(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def check_mutable_store(app: PerseusApp, dist_path: os.PathLike[str] | str) -> None:
    """Fail unless the mutable store can be written, when some template needs it.

    Raises:
        ConfigurationError: naming the templates and how to move the store.
        StoreError: ``PERSEUS_STORE`` names a Redis that does not answer.
    """
    from pathlib import Path

    needing = [t.name for t in app.templates if t.uses_mutable_store]
    location = mutable_location(Path(dist_path))
    if needing and not location_is_writable(location):
        names = ", ".join(f"'{name}'" for name in needing)
        raise ConfigurationError(
            f"template(s) {names} use revalidation or incremental generation, which store pages in"
            f" the mutable store, but {location} is not writable (a read-only filesystem?): set"
            " PERSEUS_MUTABLE_DIR to a writable directory, or remove revalidate_after,"
            " should_revalidate and incremental from those templates"
        )
    if needing:
        check_store_reachable()


class DynamicPage:
    """A built path answered at request time: its page ref, strategies and built copy."""

    __slots__ = ("ref", "flags", "revalidates", "built_meta", "html", "json", "build_state")

    def __init__(self, ref: PageRef, built_meta: RecordMeta | None, html: Any, json: Any,
                 build_state: Any) -> None:
        self.ref = ref
        self.flags = ref.template.strategy_flags
        self.revalidates = ref.template.revalidates
        self.built_meta = built_meta
        self.html = html  # the engine's served copy (revalidating pages), else None
        self.json = json
        self.build_state = build_state  # request state: the build half


class RequestTime:
    """Everything the engine does for pages that are not plain prerendered bytes."""

    def __init__(self, engine: Engine, app: PerseusApp, dist: Dist) -> None:
        self.engine = engine
        self.app = app
        self.dist = dist
        self.pool = ThreadPoolExecutor(USER_THREADS, thread_name_prefix="perseus-user")
        # In watch mode, pages rendered here carry the reload script like built ones.
        reload_id = dist.build_id if dev_reload_enabled() else None
        self.renderer = PageRenderer(app, dist.global_state, engine.base_path, load_translators(app),
                                     reload_build_id=reload_id)
        self.extras = {t.name: dist.extra(t.name) for t in app.templates if t.uses_mutable_store
                       or t.request_state is not None or t.should_revalidate is not None}
        # Per locale: the built pages answered here, by id (see the engine's _LocaleSite).
        self.pages: dict[str, list[DynamicPage]] = {}
        for locale, site in engine.sites.items():
            pages = self.pages[locale] = []
            for offset, (path, name) in enumerate(site.revalidating):
                template = app.template(name)
                ref = self._ref(template, path, locale)
                due = dist.built_at + template.revalidate_after if template.revalidate_after else 0.0
                page_id = site.prerendered + offset
                pages.append(DynamicPage(ref, RecordMeta(dist.built_at, due, False), site.html_at(page_id),
                                         site.json_at(page_id), None))
        for path, locale, name, state in dist.deferred:
            meta = RecordMeta(dist.built_at, 0.0, False)
            ref = self._ref(app.template(name), path, locale)
            self.pages[locale].append(DynamicPage(ref, meta, None, None, state))
        self.paths = {locale: [page.ref.full for page in pages] for locale, pages in self.pages.items()}
        self._state_modes = {t.name: _state_mode(t) for t in app.templates}
        self._async_states = {t.name: inspect.iscoroutinefunction(t.request_state) for t in app.templates}
        self.incremental_templates = [t for t in app.templates if t.incremental]
        self.incremental_roots = {t.root: i for i, t in enumerate(self.incremental_templates)}
        self.records: PageRecords | None = None
        if any(t.uses_mutable_store for t in app.templates):
            check_mutable_store(app, dist.path)
            store = open_mutable_store(mutable_location(dist.path))
            self.records = PageRecords(store, dist.build_id)
            timeout = _seconds("PERSEUS_GENERATION_TIMEOUT", 30.0)
            backoff = _seconds("PERSEUS_RETRY_BACKOFF", 3.0)
            self.revalidator = Revalidator(store, self.records, self._generate, self.pool,
                                           timeout=timeout, backoff=backoff)
            max_pages = _count("PERSEUS_MAX_GENERATED_PAGES", MAX_STORED_PAGES)
            self.incremental = IncrementalGenerator(store, self.records, self._generate, timeout=timeout,
                                                    max_pages=max_pages)
        # ISR-06: a flood of new paths runs at most this many generations at once per worker
        # (the others wait, within the generation timeout).
        self.generation_slots = asyncio.Semaphore(_count("PERSEUS_MAX_CONCURRENT_GENERATIONS",
                                                         CONCURRENT_GENERATIONS))

    def _ref(self, template: Any, full: str, locale: str, built: bool = True) -> PageRef:
        root = template.root
        path = full if not root else full[len(root) + 1:]
        return PageRef(template, path, locale, self.extras.get(template.name), built)

    async def _generate(self, ref: PageRef) -> PageVersion:
        async with self.generation_slots:
            return await generate_version(ref.template, ref.path, ref.locale, ref.extra, self.renderer,
                                          self.pool, self.dist.build_id)

    # -- answering ---------------------------------------------------------------------------

    def page(self, method: str, locale: str, page_id: int, headers: Mapping[str, str], query: str,
             as_json: bool) -> MaybeResponse:
        """Answer for a built page that is revalidating or rendered per request."""
        page = self.pages[locale][page_id]
        meta = page.built_meta
        version = None
        if not page.revalidates:  # PERF: request state only: no store read, no clock
            return self._act(plan(BUILT_PAGE, page.flags, meta, 0.0), method, page.ref, page, None, meta,
                             headers, query, as_json)
        if self.records is not None:
            try:
                version = self.records.get(page.ref.locale, page.ref.full, page.ref.key)
            except StoreError as error:  # the store is away: the built copy is the last good one
                log.error("cannot read '/%s' from the store: %s", page.ref.full, error)
            if version is not None:
                meta = version.meta
        decision = plan(BUILT_PAGE, page.flags, meta, time.time())
        return self._act(decision, method, page.ref, page, version, meta, headers, query, as_json)

    def unbuilt(self, method: str, locale: str, template_id: int, full: str, headers: Mapping[str, str],
                query: str, as_json: bool) -> MaybeResponse:
        """Answer for a path below an incremental template that the build did not render."""
        template = self.incremental_templates[template_id]
        ref = self._ref(template, full, locale, built=False)
        if any(segment in (".", "..") for segment in full.split("/")):
            return self._error(404, method, as_json, ref)
        assert self.records is not None
        try:
            version = self.records.get(ref.locale, ref.full, ref.key)
        except StoreError as error:
            return self._failed(error, ref, method, as_json)
        meta = version.meta if version is not None else None
        decision = plan(UNBUILT_PAGE, template.strategy_flags, meta, time.time())
        return self._act(decision, method, ref, None, version, meta, headers, query, as_json)

    def _act(self, decision: int, method: str, ref: PageRef, page: DynamicPage | None,
             version: PageVersion | None, meta: RecordMeta | None, headers: Mapping[str, str],
             query: str, as_json: bool) -> MaybeResponse:
        if decision & SOURCE == GENERATE:
            return self._generate_then_answer(decision, method, ref, headers, query, as_json)
        request = None
        # HEAD is answered from what there is; only GET starts a regeneration.
        if decision & REVALIDATE and method == "GET" and meta is not None:
            if ref.template.should_revalidate is not None:
                request = self._request(method, ref, headers, query)
            self.revalidator.schedule(ref, request, meta.generated_at, time.time())
        if decision & PER_REQUEST:
            build_state = orjson.loads(version.state) if version is not None else (
                page.build_state if page is not None else None)
            if request is None:
                request = self._request(method, ref, headers, query)
            if self._state_modes[ref.template.name] == INLINE and self.app.request_global_state is None:
                # PERF: quick sync state answered at once: no coroutine, no task, no thread hop.
                try:
                    return self._answer_sync(method, ref, ref.info, build_state, request,
                                             self.dist.global_state, as_json)
                except Exception as error:
                    return self._failed(error, ref, method, as_json)
            return self._per_request(method, ref, build_state, request, as_json)
        if decision & SOURCE == STORED and version is not None:
            return self._send_version(method, version, headers, as_json)
        assert page is not None
        return self.engine._send(method, page.json if as_json else page.html, headers)

    def _request(self, method: str, ref: PageRef, headers: Mapping[str, str], query: str) -> Request:
        # The page's own URL path, also for its JSON endpoint.
        path = "/" + ref.full if not self.engine.i18n else f"/{ref.locale}/{ref.full}".rstrip("/")
        return Request(method, path, query, headers.items)

    def _send_version(self, method: str, version: PageVersion, headers: Mapping[str, str],
                      as_json: bool) -> Response:
        if as_json:
            body, tag, served = version.json, version.json_etag, version.json_headers
        else:
            body, tag, served = version.html, version.html_etag, version.html_headers
        if etag_matches(headers.get("if-none-match"), tag):
            return Response(304, [("cache-control", BUILT_PAGE_CACHE), ("etag", tag)])
        if method != "GET":
            return Response(200, served, b"")
        answer: Response | None = version.answers.get(as_json)
        if answer is None:
            answer = version.answers[as_json] = Response(200, served, body)
        return answer

    def _error(self, status: int, method: str, as_json: bool, ref: PageRef) -> Response:
        if as_json:
            return self.engine.json_error(status, method)
        return self.engine.error(status, method, self.engine.sites[ref.locale])

    def _failed(self, error: Exception, ref: PageRef, method: str, as_json: bool) -> Response:
        status = status_for(error)
        if status >= 500:
            log.error("page '/%s' failed: %s: %s", ref.full, type(error).__name__, error,
                      exc_info=not isinstance(error, (TimeoutError, StoreError)))
        return self._error(status, method, as_json, ref)

    async def _generate_then_answer(self, decision: int, method: str, ref: PageRef,
                                    headers: Mapping[str, str], query: str, as_json: bool) -> Response:
        try:
            version = await self.incremental.page(ref)
        except Exception as error:
            return self._failed(error, ref, method, as_json)
        if decision & PER_REQUEST:
            request = self._request(method, ref, headers, query)
            return await self._per_request(method, ref, orjson.loads(version.state), request, as_json)
        return self._send_version(method, version, headers, as_json)

    # -- request state -----------------------------------------------------------------------

    async def _per_request(self, method: str, ref: PageRef, build_state: Any, request: Request,
                           as_json: bool) -> Response:
        template = ref.template
        info = ref.info
        try:
            global_state = self.dist.global_state
            if self.app.request_global_state is not None:
                global_state = await self._global_state(request)
            mode = self._state_modes[template.name]
            if mode == IN_POOL:
                # PERF: sync user code runs in the pool in one hop: state, merge and render.
                return await asyncio.get_running_loop().run_in_executor(
                    self.pool, self._answer_sync, method, ref, info, build_state, request, global_state,
                    as_json)
            if mode == INLINE:
                return self._answer_sync(method, ref, info, build_state, request, global_state, as_json)
            assert template.request_state is not None
            if self._async_states[template.name]:  # PERF: skips call_user's inspection
                state = await template.request_state(info, request)
            else:
                state = await call_user(template.request_state, info, request, pool=self.pool)
            if build_state is not None and state is not None and template.amalgamate_states:
                state = await call_user(template.amalgamate_states, info, build_state, state, pool=self.pool)
            return self._answer(method, ref, state if state is not None else build_state, global_state,
                                as_json)
        except Exception as error:
            return self._failed(error, ref, method, as_json)

    def _answer_sync(self, method: str, ref: PageRef, info: StateInfo, build_state: Any,
                     request: Request, global_state: Any, as_json: bool) -> Response:
        template = ref.template
        assert template.request_state is not None
        state = template.request_state(info, request)
        if build_state is not None and state is not None and template.amalgamate_states:
            state = template.amalgamate_states(info, build_state, state)
        return self._answer(method, ref, state if state is not None else build_state, global_state, as_json)

    def _answer(self, method: str, ref: PageRef, state: Any, global_state: Any, as_json: bool) -> Response:
        """Render a page from per-request state: only the body asked for, never stored."""
        template = ref.template
        if global_state is self.renderer.global_state:
            if ref.context is None:
                ref.context = self.renderer.context(template.name, ref.full, ref.locale)
            parts = self.renderer.parts(template, ref.path, ref.locale, state, ctx=ref.context)
        else:
            parts = self.renderer.parts(template, ref.path, ref.locale, state, global_state)
        head, content, state_json, headers = parts
        if as_json:
            body = page_json(head, content, state_json)
            headers = PER_REQUEST_JSON_HEADERS
        else:
            body = self.renderer.html(ref.locale, head, content, state_json)
            if template.set_headers is None:
                headers = PER_REQUEST_HTML_HEADERS
            else:
                headers = [(k, v) for k, v in headers if k != "cache-control"]
                headers.append(("cache-control", PER_REQUEST_CACHE))
        return Response(200, headers, body if method == "GET" else b"")

    async def _global_state(self, request: Request) -> Any:
        app = self.app
        built = self.dist.global_state
        if app.request_global_state is None:
            return built
        from_request = await call_user(app.request_global_state, request, pool=self.pool)
        if from_request is None:
            return built
        if built is not None and app.amalgamate_global_states is not None:
            return await call_user(app.amalgamate_global_states, built, from_request, pool=self.pool)
        return from_request

    def close(self) -> None:
        """Stop the user-code threads (not waiting for hung ones) and flush the store."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.records is not None:
            self.records.store.close()


def _state_mode(template: Any) -> int:
    functions = (template.request_state, template.amalgamate_states)
    if any(f is not None and inspect.iscoroutinefunction(f) for f in functions):
        return ON_LOOP
    return IN_POOL if template.blocking else INLINE
