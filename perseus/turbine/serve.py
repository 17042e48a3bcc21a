"""The engine: answers every request with a ``Response``, without running user code for built pages."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from importlib import resources
from pathlib import Path

import orjson

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
CLIENT_PATH = "/.perseus/client.js"
ALLOW = ("allow", "GET, HEAD")


class _Served:
    """One body ready to answer with: where it lies, its ETag and complete headers."""

    __slots__ = ("span", "etag", "headers", "not_modified_headers")

    def __init__(self, span: tuple[int, int], etag: str, headers: Headers) -> None:
        self.span = span
        self.etag = etag
        self.headers = headers + [("etag", etag)]
        self.not_modified_headers = [(k, v) for k, v in self.headers if k in ("cache-control", "etag")]


_matches = etag_matches


class Engine:
    """Routes requests against a built site."""

    def __init__(self, app: PerseusApp, dist: Dist) -> None:
        self.app = app
        self.dist = dist
        pages = [page for page in dist.pages if page.locale == NO_LOCALE]
        revalidating = {t.name for t in app.templates if t.revalidates}
        # PERF: prerendered pages get the low ids, so one comparison tells them apart.
        pages.sort(key=lambda page: page.template in revalidating)
        self.prerendered = sum(page.template not in revalidating for page in pages)
        self.html = [_Served(p.html, p.html_etag, p.headers) for p in pages]
        json_headers = [("content-type", JSON_TYPE), ("cache-control", BUILT_PAGE_CACHE)]
        self.json = [_Served(p.json, p.json_etag, json_headers) for p in pages]
        self.request_time = RequestTime(self, app, dist, pages[self.prerendered:], self.prerendered)
        routes = {page.path: i for i, page in enumerate(pages[: self.prerendered])}
        routes.update({path: self.prerendered + i for i, path in enumerate(self.request_time.paths)})
        self.router = Router(routes, self.request_time.incremental_roots)
        self.locales = set(dist.render_conf["locales"])
        self.error_pages = {
            status: _Served(page.html, page.html_etag, page.headers)
            for status, page in dist.errors[NO_LOCALE].items()
        }
        self.static = StaticDirectory(app.static_dir) if app.static_dir else None
        self.aliases = app.static_aliases
        client = resources.files("perseus.client").joinpath("client.js").read_bytes()
        self.client = (client, etag(client))

    def respond(self, method: str, path: str, headers: Mapping[str, str],
                query: str = "") -> Response | Awaitable[Response]:
        """Answer one request. ``path`` is decoded once; ``headers`` has lower-case names.

        Pages that run user code (request state, incremental generation) are answered
        with an awaitable; everything else, stale revalidating pages included, at once.
        """
        if path.startswith("/.perseus/"):
            return self._internal(method, path, headers, query)
        alias = self.aliases.get(path)
        if alias is not None:
            return self._file(method, open_regular(alias, self.app.root), headers)
        if method not in READ_METHODS:
            return self.error(405, method)
        try:
            key = normalize_path(path)
        except BadPath:
            return self.error(400, method)
        kind, page = self.router.match(key)
        if kind == PAGE:
            if page < self.prerendered:
                return self._send(method, self.html[page], headers)
            return self.request_time.page(method, page - self.prerendered, headers, query, False)
        if kind == INCREMENTAL:
            return self.request_time.unbuilt(method, page, key, headers, query, False)
        return self.error(404, method)

    def _send(self, method: str, served: _Served, headers: Mapping[str, str], status: int = 200) -> Response:
        if status == 200 and _matches(headers.get("if-none-match"), served.etag):
            return Response(304, served.not_modified_headers)
        body = self.dist.body(served.span) if method == "GET" else b""
        return Response(status, served.headers, body)

    def error(self, status: int, method: str = "GET") -> Response:
        """The prerendered error page for ``status`` (no exception text, ever)."""
        served = self.error_pages.get(status) or self.error_pages[500]
        body = self.dist.body(served.span) if method != "HEAD" else b""
        headers = served.headers + [ALLOW] if status == 405 else served.headers
        return Response(status, headers, body)

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
        if locale not in self.locales:
            return self.json_error(404, method)
        if not rest.endswith(".json"):
            return self.json_error(400, method)
        try:
            key = normalize_path(rest[: -len(".json")])
        except BadPath:
            return self.json_error(400, method)
        kind, page = self.router.match(key)
        if kind == PAGE:
            if page < self.prerendered:
                return self._send(method, self.json[page], headers)
            return self.request_time.page(method, page - self.prerendered, headers, query, True)
        if kind == INCREMENTAL:
            return self.request_time.unbuilt(method, page, key, headers, query, True)
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
