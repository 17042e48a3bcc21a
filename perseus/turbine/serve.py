"""The engine: answers every request with a ``Response``, without running user code for built pages."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from importlib import resources
from pathlib import Path

import orjson

from perseus_core.locales import match_locale, negotiate, redirect_path
from perseus_core.routing import INCREMENTAL, PAGE, BadPath, Router, normalize_path

from ..app import PerseusApp
from ..server.response import Headers, Response, etag_matches
from ..server.static import STATIC_CACHE, StaticDirectory, StaticFile, open_regular
from ..stores.immutable import Dist
from .build import ERROR_STATUSES
from .render import BUILT_PAGE_CACHE, ERROR_CACHE, JSON_TYPE, NO_LOCALE, etag
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


class _Served:
    """One body ready to answer with: where it lies, its ETag and complete headers."""

    __slots__ = ("span", "etag", "headers", "not_modified_headers", "body", "ok")

    def __init__(self, span: tuple[int, int], etag: str, headers: Headers) -> None:
        self.span = span
        self.body: bytes | None = None  # kept by Engine._body within its budget
        self.ok: Response | None = None  # the whole 200 answer, once the body is kept
        self.etag = etag
        self.headers = headers + [("etag", etag)]
        # NOTE: the same tuples as self.headers: 20,000 pages would otherwise hold 40,000 more.
        self.not_modified_headers = [h for h in self.headers if h[0] in ("cache-control", "etag")]


_matches = etag_matches


class _LocaleSite:
    """One locale's pages: a router over their paths, their bodies and its error pages.

    Prerendered pages get the low ids and revalidating ones (answered by ``RequestTime``)
    the ids after ``prerendered``; ``paths`` lists the prerendered ones.
    """

    __slots__ = ("locale", "paths", "router", "html", "json", "errors", "prerendered", "revalidating")

    def __init__(self, dist: Dist, locale: str, revalidating: set[str]) -> None:
        self.locale = locale
        pages = [page for page in dist.pages if page.locale == locale]
        # PERF: one comparison tells a prerendered page from one answered at request time.
        pages.sort(key=lambda page: page.template in revalidating)
        self.prerendered = sum(page.template not in revalidating for page in pages)
        self.revalidating = pages[self.prerendered:]
        self.paths = [page.path for page in pages[: self.prerendered]]
        self.router = Router({path: i for i, path in enumerate(self.paths)}, {})
        self.html = [_Served(p.html, p.html_etag, p.headers) for p in pages]
        json_headers = [("content-type", JSON_TYPE), ("cache-control", BUILT_PAGE_CACHE)]
        self.json = [_Served(p.json, p.json_etag, json_headers) for p in pages]
        self.errors = {
            status: _Served(page.html, page.html_etag, page.headers)
            for status, page in dist.errors[locale].items()
        }

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
        self.sites = {locale: _LocaleSite(dist, locale, revalidating) for locale in self.locales}
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
        self.client = (client, etag(client))
        self.exact = self._exact_urls()
        self.body_budget = BODY_CACHE_BYTES

    def _exact_urls(self) -> dict[str, _Served]:
        """Built pages by each URL ``respond`` routes to them as it is (HTML and JSON).

        Only URLs the full route gives the same answer for: no alias, nothing under
        ``/.perseus/`` but page data, and paths that normalise to themselves.
        """
        exact: dict[str, _Served] = {}
        for locale, site in self.sites.items():
            prefix = "/" + locale if self.i18n else ""
            for i, path in enumerate(site.paths):
                try:
                    if normalize_path(path) != path:
                        continue
                except BadPath:
                    continue
                url = f"{prefix}/{path}" if path or not prefix else prefix
                if not url.startswith("/.perseus/") and url not in self.aliases:
                    exact[url] = site.html[i]
                exact[f"{PAGE_DATA_PREFIX}{locale}/{path}.json"] = site.json[i]
        return exact

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
                return self._send(method, site.html[page], headers)
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
            body, tag = self.client
            served_headers = [("content-type", "text/javascript; charset=utf-8"),
                              ("cache-control", BUILT_PAGE_CACHE), ("etag", tag)]
            if _matches(headers.get("if-none-match"), tag):
                return Response(304, served_headers[1:])
            return Response(200, served_headers, body if method == "GET" else b"")
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
                return self._send(method, site.json[page], headers)
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
