"""The engine: answers every request with a ``Response``, without running user code for built pages."""

from __future__ import annotations

from array import array
from collections.abc import Awaitable, Mapping
from importlib import resources
from pathlib import Path

import orjson

from perseus_core.locales import match_locale, negotiate, redirect_path
from perseus_core.routing import INCREMENTAL, PAGE, BadPath, Router, normalize_path

from ..app import PerseusApp
from ..server.encoding import accepts_gzip
from ..server.response import Headers, Response, etag_matches
from ..server.static import STATIC_CACHE, StaticDirectory, StaticFile, open_regular
from ..stores.immutable import Dist, Span
from .build import ERROR_STATUSES
from .render import BUILT_PAGE_CACHE, ERROR_CACHE, JSON_TYPE, NO_LOCALE, etag, gzip_copy, gzip_etag
from .request_time import RequestTime

READ_METHODS = ("GET", "HEAD")
PAGE_DATA_PREFIX = "/.perseus/page/"
STATIC_PREFIX = "/.perseus/static/"
TRANSLATIONS_PREFIX = "/.perseus/translations/"
CLIENT_PATH = "/.perseus/client.js"
ALLOW = ("allow", "GET, HEAD")
# PERF: copying a body out of the memory map costs ~1.5 µs per request for an 11 KB page
# (bench/run.py). Bodies are kept once read, up to this many bytes per worker, so a site
# of many pages still fits in little memory (the first pages asked for are kept).
BODY_CACHE_BYTES = 2 * 1024 * 1024
# NOTE: 307, not 301/308: the target depends on Accept-Language, so it must never be
# remembered as permanent; and unlike 302 it keeps the method (a HEAD stays a HEAD).
LOCALE_REDIRECT = 307
# The answer varies with the visitor's languages: no shared cache may keep it.
LOCALE_REDIRECT_HEADERS = [("vary", "accept-language"), ("cache-control", "private, no-store")]
JSON_HEADERS = [("content-type", JSON_TYPE), ("cache-control", BUILT_PAGE_CACHE)]
CLIENT_HEADERS = [("content-type", "text/javascript; charset=utf-8"), ("cache-control", BUILT_PAGE_CACHE)]
# Every answer of a body that has a gzip copy says so, the identity one included, or a
# shared cache could hand the gzip copy to a client that never asked for it.
VARY_ENCODING = ("vary", "accept-encoding")
GZIP_ENCODING = ("content-encoding", "gzip")
_NOT_MODIFIED_HEADERS = ("cache-control", "etag", "vary")


class _Served:
    """One body ready to answer with: where it lies, its ETag and complete headers.

    ``gz`` is its gzip copy, sent instead to clients that accept it; ``span`` is None
    for a body held in memory from the start (``body``).
    """

    __slots__ = ("span", "etag", "headers", "not_modified_headers", "body", "ok", "gz")

    def __init__(self, span: Span | None, etag: str, headers: Headers, body: bytes | None = None) -> None:
        self.span = span
        self.body = body  # else kept by Engine._body within its budget
        self.ok: Response | None = None  # the whole 200 answer, once the body is kept
        self.gz: _Served | None = None
        self.etag = etag
        self.headers = headers + [("etag", etag)]
        # NOTE: the same tuples as self.headers: 20,000 pages would otherwise hold 40,000 more.
        self.not_modified_headers = [h for h in self.headers if h[0] in _NOT_MODIFIED_HEADERS]


def _served(span: Span | None, tag: str, headers: Headers, gz_span: Span | None = None,
            body: bytes | None = None, gz_body: bytes | None = None) -> _Served:
    """A body, with its gzip copy (at ``gz_span`` or in ``gz_body``) when it has one."""
    if gz_span is None and gz_body is None:
        return _Served(span, tag, headers, body)
    served = _Served(span, tag, headers + [VARY_ENCODING], body)
    served.gz = _Served(gz_span, gzip_etag(tag), headers + [VARY_ENCODING, GZIP_ENCODING], gz_body)
    return served


_matches = etag_matches


class _LocaleSite:
    """One locale's pages: a router over their paths, their bodies and its error pages.

    Prerendered pages get the low ids and revalidating ones (answered by ``RequestTime``)
    the ids after ``prerendered``; ``paths`` lists the prerendered ones, ``revalidating``
    the others as (path, template).
    """

    __slots__ = ("locale", "prefix", "paths", "router", "html", "json", "errors", "prerendered",
                 "revalidating", "_pages", "_ids")

    def __init__(self, dist: Dist, locale: str, revalidating: set[str], i18n: bool) -> None:
        self.locale = locale
        self.prefix = "/" + locale if i18n else ""
        index = self._pages = dist.pages
        locale_id = index.locales.index(locale) if locale in index.locales else -1
        later = {i for i, name in enumerate(index.templates) if name in revalidating}
        templates = index.template_ids
        mine = [i for i, page_locale in enumerate(index.locale_ids) if page_locale == locale_id]
        # PERF: one comparison tells a prerendered page from one answered at request time.
        prerendered = [i for i in mine if templates[i] not in later]
        others = [i for i in mine if templates[i] in later]
        self.prerendered = len(prerendered)
        self._ids = array("I", prerendered + others)
        self.paths = [index.paths[i] for i in prerendered]
        self.revalidating = [(index.paths[i], index.templates[templates[i]]) for i in others]
        self.router = Router({}, {})  # set by route()
        # PERF: a page's answers are made when it is first asked for (see html_at): a site
        # of many pages starts fast, and holds objects only for the pages it serves.
        self.html: list[_Served | None] = [None] * len(self._ids)
        self.json: list[_Served | None] = [None] * len(self._ids)
        self.errors = {
            status: _Served(page.html, page.html_etag, page.headers)
            for status, page in dist.errors[locale].items()
        }

    def html_at(self, i: int) -> _Served:
        """The HTML answer of page ``i``."""
        served = self.html[i]
        if served is None:
            page = self._pages.page(self._ids[i])
            served = self.html[i] = _served(page.html, page.html_etag, page.headers, page.html_gz)
        return served

    def json_at(self, i: int) -> _Served:
        """The page-data (JSON) answer of page ``i``."""
        served = self.json[i]
        if served is None:
            page = self._pages.page(self._ids[i])
            served = self.json[i] = _served(page.json, page.json_etag, JSON_HEADERS, page.json_gz)
        return served

    def url(self, key: str) -> str:
        """The canonical URL of the page at route key ``key``."""
        return f"{self.prefix}/{key}" if key or not self.prefix else self.prefix

    def route(self, request_time_paths: list[str], incremental_roots: dict[str, int]) -> None:
        """Route prerendered pages, then every page ``RequestTime`` answers, by its id there."""
        routes = {path: i for i, path in enumerate(self.paths)}
        routes.update({path: self.prerendered + i for i, path in enumerate(request_time_paths)})
        self.router = Router(routes, incremental_roots)


class Engine:
    """Routes requests against a built site."""

    def __init__(self, app: PerseusApp, dist: Dist) -> None:
        self.app = app
        self.dist = dist
        self.locales: list[str] = dist.render_conf["locales"]
        self.default_locale: str = dist.render_conf.get("default_locale", NO_LOCALE)
        self.i18n = self.default_locale != NO_LOCALE
        self.base_path: str = dist.render_conf.get("base_path", "")
        revalidating = {t.name for t in app.templates if t.revalidates}
        self.sites = {locale: _LocaleSite(dist, locale, revalidating, self.i18n) for locale in self.locales}
        self.default_site = self.sites[self.default_locale]
        self.request_time = RequestTime(self, app, dist)
        for locale, site in self.sites.items():
            site.route(self.request_time.paths[locale], self.request_time.incremental_roots)
        translation_headers = [("cache-control", BUILT_PAGE_CACHE), ("x-content-type-options", "nosniff")]
        self.translations = {
            locale: _Served(t.body, t.etag, [("content-type", t.content_type), *translation_headers])
            for locale, t in dist.translations.items()
        }
        self.static = StaticDirectory(app.static_dir) if app.static_dir else None
        self.aliases = app.static_aliases
        client = resources.files("perseus.client").joinpath("client.js").read_bytes()
        self.client = _served(None, etag(client), CLIENT_HEADERS, body=client, gz_body=gzip_copy(client))
        # Built pages by the exact URL a GET asked for them with, filled as they are first
        # served: only canonical URLs (at most two per page), which the full route answers
        # with the same page, so a hit can skip normalising and routing.
        self.exact: dict[str, _Served] = {}
        self.body_budget = BODY_CACHE_BYTES

    def respond(self, method: str, path: str, headers: Mapping[str, str],
                query: str = "") -> Response | Awaitable[Response]:
        """Answer one request. ``path`` is decoded once; ``headers`` has lower-case names.

        ``query`` is the raw query string. Pages that run user code (request state,
        incremental generation) are answered with an awaitable; everything else, stale
        revalidating pages included, at once.
        """
        # PERF: most requests GET a built page by its exact URL: skip normalising and routing.
        served = self.exact.get(path)
        if served is not None and method == "GET":
            return self._send(method, served, headers)
        url = path
        try:
            key = normalize_path(path)
        except BadPath:
            # SECURITY: invalid UTF-8 (granian's RSGI decodes it to U+FFFD) and control
            # characters are refused on every route, before any lookup or redirect.
            return self.bad_request(method, path)
        if path.startswith("/.perseus/"):
            return self._internal(method, path, headers, query)
        alias = self.aliases.get(path)
        if alias is not None:
            return self._file(method, open_regular(alias, self.app.root), headers)
        if method not in READ_METHODS:
            return self.error(405, method)
        site = self.default_site
        if self.i18n:
            first, _, path = path.lstrip("/").partition("/")
            found = self.sites.get(first)
            if found is None:
                return self._locale_redirect(first, path, query, headers)
            site = found
            key = normalize_path(path)  # a part of a path already checked: cannot raise
        kind, page = site.router.match(key)
        if kind == PAGE:
            if page < site.prerendered:
                served = site.html_at(page)
                if url == site.url(key):
                    self.exact[url] = served
                return self._send(method, served, headers)
            return self.request_time.page(method, site.locale, page - site.prerendered, headers, query, False)
        if kind == INCREMENTAL:
            return self.request_time.unbuilt(method, site.locale, page, key, headers, query, False)
        return self.error(404, method, site)

    def _locale_redirect(self, first: str, rest: str, query: str, headers: Mapping[str, str]) -> Response:
        """``/<path>`` -> ``/<locale>/<path>``, one hop, never off this site."""
        locale = match_locale(first, self.locales)
        if locale:  # "/EN-us/about" names a locale in the wrong case
            path = rest
        else:
            locale = negotiate(headers.get("accept-language"), self.locales, self.default_locale)
            path = first + "/" + rest
        location = redirect_path(self.base_path, locale, path, query)
        return Response(LOCALE_REDIRECT, [("location", location), *LOCALE_REDIRECT_HEADERS])

    def close(self) -> None:
        """Release what serving holds: user-code threads, the mutable store."""
        self.request_time.close()

    def _send(self, method: str, served: _Served, headers: Mapping[str, str], status: int = 200) -> Response:
        # PERF: one attribute test for bodies without a gzip copy (and wrk sends no Accept-Encoding).
        if served.gz is not None and accepts_gzip(headers.get("accept-encoding")):
            served = served.gz
        if status == 200 and _matches(headers.get("if-none-match"), served.etag):
            return Response(304, served.not_modified_headers)
        if method != "GET":
            return Response(status, served.headers, b"")
        if status == 200 and served.ok is not None:
            return served.ok
        response = Response(status, served.headers, self._body(served))
        if status == 200 and served.body is not None:
            # PERF: answered as it is from now on (~0.15 µs); a Response is never changed once made.
            served.ok = response
        return response

    def _body(self, served: _Served) -> bytes:
        body = served.body
        if body is None:
            assert served.span is not None  # only bodies held from the start have none
            body = self.dist.body(served.span)
            if len(body) <= self.body_budget:
                self.body_budget -= len(body)
                served.body = body
        return body

    def error(self, status: int, method: str = "GET", site: _LocaleSite | None = None) -> Response:
        """The prerendered error page for ``status`` in the site's locale (no exception text, ever)."""
        pages = (site or self.default_site).errors
        served = pages.get(status) or pages[500]
        body = self._body(served) if method != "HEAD" else b""
        headers = served.headers + [ALLOW] if status == 405 else served.headers
        return Response(status, headers, body)

    def bad_request(self, method: str, path: str) -> Response:
        """400 for a path that cannot be decoded, as JSON on the page-data route."""
        if path.startswith(PAGE_DATA_PREFIX):
            return self.json_error(400, method)
        return self.error(400, method)

    def json_error(self, status: int, method: str = "GET") -> Response:
        message = ERROR_STATUSES.get(status, "error")
        body = orjson.dumps({"error": {"status": status, "message": message}}) if method != "HEAD" else b""
        headers = [("content-type", JSON_TYPE), ("cache-control", ERROR_CACHE)]
        return Response(status, headers + [ALLOW] if status == 405 else headers, body)

    def _internal(self, method: str, path: str, headers: Mapping[str, str],
                  query: str) -> Response | Awaitable[Response]:
        json_route = path.startswith(PAGE_DATA_PREFIX)
        if method not in READ_METHODS:
            return self.json_error(405, method) if json_route else self.error(405, method)
        if json_route:
            return self._page_data(method, path[len(PAGE_DATA_PREFIX):], headers, query)
        if path.startswith(STATIC_PREFIX) and self.static is not None:
            return self._file(method, self.static.find(path[len(STATIC_PREFIX):]), headers)
        if path.startswith(TRANSLATIONS_PREFIX):
            translations = self.translations.get(path[len(TRANSLATIONS_PREFIX):])
            if translations is None:
                return self.json_error(404, method)
            return self._send(method, translations, headers)
        if path == CLIENT_PATH:
            return self._send(method, self.client, headers)
        return self.error(404, method)

    def _page_data(self, method: str, tail: str, headers: Mapping[str, str],
                   query: str) -> Response | Awaitable[Response]:
        locale, _, rest = tail.partition("/")
        site = self.sites.get(locale)
        if site is None:
            return self.json_error(404, method)
        if not rest.endswith(".json"):
            return self.json_error(400, method)
        try:
            key = normalize_path(rest[: -len(".json")])
        except BadPath:
            return self.json_error(400, method)
        kind, page = site.router.match(key)
        if kind == PAGE:
            if page < site.prerendered:
                served = site.json_at(page)
                if len(rest) == len(key) + len(".json") and rest.startswith(key):
                    self.exact[PAGE_DATA_PREFIX + tail] = served
                return self._send(method, served, headers)
            return self.request_time.page(method, site.locale, page - site.prerendered, headers, query, True)
        if kind == INCREMENTAL:
            return self.request_time.unbuilt(method, site.locale, page, key, headers, query, True)
        return self.json_error(404, method)

    def _file(self, method: str, found: StaticFile | None, headers: Mapping[str, str]) -> Response:
        if method not in READ_METHODS:
            return self.error(405, method)
        if found is None:
            return self.error(404, method)
        file_headers = [("content-type", found.content_type), ("cache-control", STATIC_CACHE),
                        ("etag", found.etag), ("x-content-type-options", "nosniff")]
        if _matches(headers.get("if-none-match"), found.etag):
            return Response(304, file_headers[1:3])
        if method == "HEAD":
            return Response(200, file_headers + [("content-length", str(found.size))])
        return Response(200, file_headers, file=found.path)


def open_engine(app: PerseusApp, dist: Path) -> Engine:
    """Open ``dist`` (built from ``app``) for serving."""
    return Engine(app, Dist(dist))
