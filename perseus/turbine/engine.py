"""The engine: one request path from a decoded URL path to a ``Response``.

    route (Router.resolve) -> page table (Page, its kind) -> strategy module -> Response

The strategy modules (``built``, ``request_state``, ``revalidation``, ``incremental``)
each take one ``PageRequest``; those that decide per request ask ``perseus_core.plan``.
Perseus's own URLs (page data, static files, translations, the client) are answered
here, and so are fixed redirects and pages built as redirects (one table, looked up
before routing: ``redirects.py``); the adapters only translate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from perseus_core.locales import match_locale, negotiate, redirect_path
from perseus_core.plan import GENERATED, PRERENDERED, RENDERED_PER_REQUEST, REVALIDATING
from perseus_core.routing import INCREMENTAL, NO_LOCALE, PAGE, BadPath, normalize_path

from ..app import PerseusApp
from ..client import runtime as client_runtime
from ..client import runtime_path
from ..http.bodies import BUILT_PAGE_CACHE, JSON_TYPE, STATIC_BROTLI, compressed_copies, etag
from ..http.encoding import pick
from ..http.fingerprints import IMMUTABLE_CACHE, Fingerprints
from ..http.mounts import Mount
from ..http.response import HIT, Response, etag_matches
from ..http.static import STATIC_CACHE, StaticDirectory, StaticFile, open_regular
from ..http.static_copies import StaticCopies
from ..http.urls import (
    CLIENT_PATH,
    HEALTH_PATH,
    INTERNAL_PREFIX,
    METRICS_PATH,
    PAGE_DATA_PREFIX,
    PAGE_DATA_SUFFIX,
    READY_PATH,
    REVALIDATE_PATH,
    STATIC_PREFIX,
    TRANSLATIONS_PREFIX,
)
from ..i18n.locales import NO_LOCALE as NO_I18N
from ..plugins.output import file_root, plugin_files
from ..settings import Settings, load_settings
from ..stores.immutable import Dist
from .built import Built
from .incremental import Incremental
from .metrics import open_metrics, strategy_lookup
from .pages import HTML, JSON, Form, Page, PageRequest, PageTable, Served, served
from .probes import Probes
from .redirects import fixed_redirects, redirect_table
from .request_state import MaybeResponse, RequestState
from .revalidate_route import BodyChunks, revalidate_route
from .revalidation import Revalidation
from .runtime import Runtime

READ_METHODS = ("GET", "HEAD")
# Stored generated pages kept by URL, like built ones (a few hundred bytes each).
GENERATED_KEPT = 10_000
# NOTE: 307, not 301/308: the target depends on Accept-Language, so it must never be
# remembered as permanent; and unlike 302 it keeps the method (a HEAD stays a HEAD).
LOCALE_REDIRECT = 307
# The answer varies with the visitor's languages: no shared cache may keep it.
LOCALE_REDIRECT_HEADERS = [("vary", "accept-language"), ("cache-control", "private, no-store")]
JSON_HEADERS = [("content-type", JSON_TYPE), ("cache-control", BUILT_PAGE_CACHE)]
CLIENT_HEADERS = [("content-type", "text/javascript; charset=utf-8"), ("cache-control", BUILT_PAGE_CACHE)]
# The hashed name pages load: a new runtime is a new URL.
HASHED_CLIENT_HEADERS = [CLIENT_HEADERS[0], ("cache-control", IMMUTABLE_CACHE)]
TRANSLATION_HEADERS = [("cache-control", BUILT_PAGE_CACHE), ("x-content-type-options", "nosniff")]
Strategy = Callable[[PageRequest], MaybeResponse]


class Engine:
    """Answers requests against a built site."""

    def __init__(self, app: PerseusApp, dist: Dist, settings: Settings) -> None:
        self.app = app
        self.dist = dist
        self.default_locale: str = dist.render_conf.get("default_locale", NO_I18N)
        self.base_path: str = dist.render_conf.get("base_path", "")
        self.runtime = runtime = Runtime(app, dist, self.base_path, self.default_locale, settings)
        self.table = PageTable(app, dist, JSON_HEADERS, runtime.policy)
        self.router = self.table.router
        self.locales = self.table.locales
        self.i18n = self.table.i18n
        self.bodies = runtime.bodies
        self.errors = runtime.errors
        request_state = RequestState(runtime)
        revalidation = Revalidation(runtime, request_state)
        # Which strategy answers each kind of page (perseus_core.plan.page_kind).
        self.strategies: dict[int, Strategy] = {
            PRERENDERED: Built(self.bodies).answer,
            RENDERED_PER_REQUEST: request_state.answer,
            REVALIDATING: revalidation.answer,
            GENERATED: Incremental(runtime, request_state, revalidation).answer,
        }
        # NOTE: compressed when the site opens: a few small files per site.
        self.translations = {
            locale: served(t.body, t.etag, [("content-type", t.content_type), *TRANSLATION_HEADERS],
                           copies=compressed_copies(dist.body(t.body), STATIC_BROTLI))
            for locale, t in dist.translations.items()
        }
        # Fixed redirects and pages built as redirects: answered before routing.
        self.redirects = redirect_table(fixed_redirects(app, self.base_path), dist.redirects,
                                        self.i18n, self.locales)
        self.static = StaticDirectory(app.static_dir) if app.static_dir else None
        manifest = dist.render_conf.get("static", {})  # the build's hashes of the static files
        self.fingerprints = Fingerprints(manifest, self.static) if self.static else None
        self.aliases = app.static_aliases
        self.plugin_files = plugin_files(dist.path)  # what the plugins wrote at build time
        self.plugin_root = file_root(dist.path)
        self.static_copies = StaticCopies(dist.static_copies, dist.static_copies_dir, app.root)
        client = client_runtime()
        client_copies = compressed_copies(client, STATIC_BROTLI)  # made once for both names
        self.client = served(None, etag(client), CLIENT_HEADERS, client, client_copies)
        self.client_path = runtime_path()
        self.hashed_client = served(None, etag(client), HASHED_CLIENT_HEADERS, client, client_copies)
        # PERF: most requests GET a page by its canonical URL: kept here once served, a hit
        # skips routing. Built pages by their answer, the others by their page.
        self.exact: dict[str, Served] = {}
        self.exact_pages: dict[str, tuple[Strategy, Page, Form]] = {}
        self.generated_kept = 0  # how many of them are generated pages (at most GENERATED_KEPT)
        self.revalidate = revalidate_route(dist.path, settings)
        # Operations: probes for load balancers, and Prometheus metrics when asked for.
        probes = Probes(runtime)
        self.metrics = open_metrics(settings, strategy_lookup(self.exact, self.exact_pages, self.table),
                                    probes.stored_pages)
        runtime.observe(self.metrics)
        self.operations: dict[str, Callable[[str], MaybeResponse]] = {
            HEALTH_PATH: probes.health, READY_PATH: probes.ready,
            **({METRICS_PATH: self.metrics.answer} if self.metrics is not None else {})}
        self.mounts = app.mounts if app.mounts else None

    def respond(self, method: str, path: str, headers: Mapping[str, str], query: str = "",
                body: BodyChunks | None = None) -> Response | Awaitable[Response] | Mount:
        """Answer one request. ``path`` is decoded once; ``headers`` has lower-case names.

        ``query`` is the raw query string; ``body`` the request body's chunks, read only by
        the route that takes one (``POST /.perseus/revalidate``). Pages that run user code
        (request state, incremental generation) are answered with an awaitable; everything
        else, stale revalidating pages included, at once. Called on the worker's running event
        loop: a due page's regeneration is started on it as a task. A path below a mounted app
        is answered with its ``Mount``: the adapter runs the app, with the request's body.
        """
        if method == "GET":
            served = self.exact.get(path)
            if served is not None:
                return self.bodies.send(method, served, headers)
            known = self.exact_pages.get(path)
            if known is not None:
                return known[0](PageRequest(method, path, headers, query, known[1], known[2]))
        redirect = self.redirects.get(path)
        if redirect is not None:
            return redirect.answer(method, query)
        # PERF: after the exact hits, so a built page pays nothing for mounts; one check here.
        if self.mounts is not None and (mount := self.mounts.find(path)) is not None:
            return mount
        if path.startswith(INTERNAL_PREFIX):
            return self._internal(method, path, headers, query, body)
        alias = self.aliases.get(path)
        if alias is not None:
            return self._file(method, open_regular(alias, self.app.root), headers)
        written = self.plugin_files.get(path)
        if written is not None:
            return self._file(method, open_regular(written, self.plugin_root), headers)
        try:
            # SECURITY: invalid UTF-8 (granian's RSGI decodes it to U+FFFD) and control
            # characters are refused on every route, before any lookup or redirect.
            verdict, ident, locale_index = self.router.resolve(path)
        except BadPath:
            return self.errors.answer(400, method, HTML)
        if method not in READ_METHODS:
            return self.errors.answer(405, method, HTML)
        if verdict == NO_LOCALE:
            return self._locale_redirect(path, query, headers)
        page = self._find(path, verdict, ident, locale_index)
        if page is None:
            return self.errors.answer(404, method, HTML, self.locales[max(locale_index, 0)],
                                      accept_encoding=headers.get("accept-encoding"))
        return self._answer(PageRequest(method, path, headers, query, page, HTML))

    def _find(self, routed: str, verdict: int, ident: int, locale_index: int) -> Page | None:
        """The page table's entry for what routing found in ``routed`` (None: not found)."""
        locale_index = max(locale_index, 0)  # -1 without i18n: the one locale
        if verdict == PAGE:
            return self.table.page(locale_index, ident)
        if verdict == INCREMENTAL:
            key = normalize_path(routed)  # checked by resolve: cannot raise
            return self.table.unbuilt(locale_index, ident, key.partition("/")[2] if self.i18n else key)
        return None

    def _answer(self, request: PageRequest) -> MaybeResponse:
        """The page's strategy answers; a page asked for by its canonical URL is kept for next time."""
        page = request.page
        strategy = self.strategies[page.kind]
        if request.method == "GET" and page.kind != GENERATED:
            url = page.url if request.form is HTML else page.data_url
            if request.path == url and page.kind == PRERENDERED:
                assert page.served is not None
                self.exact[url] = page.served[request.form.index]
            elif request.path == url:
                self.exact_pages[url] = (strategy, page, request.form)
        answer = strategy(request)
        if page.kind == GENERATED and isinstance(answer, Response) and answer.cache == HIT:
            self._keep_generated(request)
        return answer

    def _keep_generated(self, request: PageRequest) -> None:
        """A generated page found stored, asked for by its canonical URL: kept like a built one.

        PERF: its next requests skip routing and making its page (and its store key) again,
        7 of a stored generated page's 11 µs here. Bounded: only pages found stored, at most
        GENERATED_KEPT of them.
        A page gone since is still answered by its strategy, which reads the store first.
        """
        page = request.page
        if request.method != "GET" or self.generated_kept >= GENERATED_KEPT:
            return
        url = page.url if request.form is HTML else page.data_url
        if request.path == url and url not in self.exact_pages:
            self.exact_pages[url] = (self.strategies[GENERATED], page, request.form)
            self.generated_kept += 1

    def _locale_redirect(self, path: str, query: str, headers: Mapping[str, str]) -> Response:
        """``/<path>`` -> ``/<locale>/<path>``, one hop, never off this site."""
        first, _, rest = path.lstrip("/").partition("/")
        locale = match_locale(first, self.locales)
        if locale:  # "/EN-us/about" names a locale in the wrong case
            path = rest
        else:
            locale = negotiate(headers.get("accept-language"), self.locales, self.default_locale)
            path = first + "/" + rest
        location = redirect_path(self.base_path, locale, path, query)
        return Response(LOCALE_REDIRECT, [("location", location), *LOCALE_REDIRECT_HEADERS])

    def _internal(self, method: str, path: str, headers: Mapping[str, str], query: str,
                  body: BodyChunks | None) -> MaybeResponse:
        """Perseus's own URLs, below ``/.perseus/``."""
        form = JSON if path.startswith(PAGE_DATA_PREFIX) else HTML
        try:
            normalize_path(path)  # SECURITY: as for pages, refused before anything else
        except BadPath:
            return self.errors.answer(400, method, form)
        if path == REVALIDATE_PATH:  # without the token, a URL like no other: 404 to every method
            if self.revalidate is None:
                return self.errors.answer(404, method, HTML)
            return self.revalidate.answer(method, headers, body)
        if method not in READ_METHODS:
            return self.errors.answer(405, method, form)
        if form is JSON:
            return self._page_data(method, path[len(PAGE_DATA_PREFIX):], headers, query)
        if path.startswith(STATIC_PREFIX) and self.static is not None:
            relative = path[len(STATIC_PREFIX):]
            assert self.fingerprints is not None
            hashed = self.fingerprints.find(relative)
            if hashed is not None:
                return self._file(method, hashed, headers, IMMUTABLE_CACHE)
            return self._file(method, self.static.find(relative), headers)
        if path.startswith(TRANSLATIONS_PREFIX):
            translations = self.translations.get(path[len(TRANSLATIONS_PREFIX):])
            if translations is None:
                return self.errors.json(404, method)
            return self.bodies.send(method, translations, headers)
        if path == CLIENT_PATH:
            return self.bodies.send(method, self.client, headers)
        if path == self.client_path:
            return self.bodies.send(method, self.hashed_client, headers)
        operation = self.operations.get(path)
        if operation is not None:
            return operation(method)
        return self.errors.answer(404, method, HTML)

    def _page_data(self, method: str, tail: str, headers: Mapping[str, str], query: str) -> MaybeResponse:
        """``/.perseus/page/<locale>/<path>.json``: the page's JSON, routed like its HTML."""
        locale, _, rest = tail.partition("/")
        if locale not in self.locales:
            return self.errors.json(404, method)
        if not rest.endswith(PAGE_DATA_SUFFIX):
            return self.errors.json(400, method)
        routed = rest[: -len(PAGE_DATA_SUFFIX)]
        if self.i18n:
            routed = f"/{locale}/{routed}"
        verdict, ident, locale_index = self.router.resolve(routed)  # checked by _internal: cannot raise
        page = self._find(routed, verdict, ident, locale_index)
        if page is None:
            return self.errors.json(404, method, locale)
        return self._answer(PageRequest(method, PAGE_DATA_PREFIX + tail, headers, query, page, JSON))

    def _file(self, method: str, found: StaticFile | None, headers: Mapping[str, str],
              cache: str = STATIC_CACHE) -> Response:
        if method not in READ_METHODS:
            return self.errors.answer(405, method, HTML)
        if found is None:
            return self.errors.answer(404, method, HTML)
        path, size, tag, varied = found.path, found.size, found.etag, []
        copies = self.static_copies.of(found)
        if copies is not None:  # the build's brotli or gzip copy, where the client takes one
            varied = [("vary", "accept-encoding")]
            chosen = pick(copies, headers.get("accept-encoding"))
            if chosen is not None:
                path, size, tag = chosen.path, chosen.size, chosen.etag
                varied.append(("content-encoding", chosen.encoding))
        file_headers = [("content-type", found.content_type), ("cache-control", cache),
                        ("etag", tag), ("x-content-type-options", "nosniff"), *varied]
        if etag_matches(headers.get("if-none-match"), tag):
            return Response(304, file_headers[1:3] + varied[:1])
        if method == "HEAD":
            return Response(200, file_headers + [("content-length", str(size))])
        return Response(200, file_headers, file=path)

    def close(self) -> None:
        """Release what serving holds: user-code threads, the mutable store."""
        self.runtime.close()


def open_engine(app: PerseusApp, dist: Path, settings: Settings | None = None) -> Engine:
    """Open ``dist`` (built from ``app``) for serving.

    ``settings`` default to those of the environment and ``app``'s project (for tests and
    tools that open a site in-process); servers pass the ones they read at start.
    """
    return Engine(app, Dist(dist), settings if settings is not None else load_settings(app.root))
