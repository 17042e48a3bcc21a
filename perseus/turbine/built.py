"""Built pages: answering with bodies the build rendered, error pages included.

No user code runs here. ``Bodies.send`` answers with a ``Served`` body: its brotli or
gzip copy where the client takes one, 304 where the client has it, and the whole 200
answer kept once made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..http.bodies import ENCODING_NAMES, ERROR_CACHE, JSON_TYPE, VARY_ENCODING, RenderedPage
from ..http.encoding import pick
from ..http.response import Headers, Response, error_message, etag_matches
from ..stores.immutable import Dist, StoredPage
from .pages import JSON, Form, PageRequest, Served

log = logging.getLogger("perseus.request")
ALLOW = ("allow", "GET, HEAD")
JSON_ERROR_HEADERS = [("content-type", JSON_TYPE), ("cache-control", ERROR_CACHE)]
# PageRenderer.render_error: (status, message, locale, detail, use the app's views).
RenderError = Callable[[int, str, str, str | None, bool], RenderedPage]
# PERF: copying a body out of the memory map costs ~1.5 µs per request for an 11 KB page
# (bench/run.py). Bodies are kept once read, up to this many bytes per worker, so a site
# of many pages still fits in little memory (the first pages asked for are kept).
BODY_CACHE_BYTES = 2 * 1024 * 1024


class Bodies:
    """Reads built bodies out of ``dist/`` (keeping them within a budget) and sends them."""

    def __init__(self, dist: Dist) -> None:
        self.dist = dist
        self.budget = BODY_CACHE_BYTES

    def send(self, method: str, served: Served, headers: Mapping[str, str]) -> Response:
        """The 200 (or 304, or HEAD) answer with ``served``."""
        # PERF: one attribute test for bodies without a compressed copy (and wrk sends no
        # Accept-Encoding: one dict lookup more for bodies with copies).
        variants = served.variants
        if variants is not None:
            accept = headers.get("accept-encoding")
            if accept:
                served = pick(variants, accept) or served
        if etag_matches(headers.get("if-none-match"), served.etag):
            return Response(304, served.not_modified_headers, cache=served.cache)
        if method != "GET":
            return Response(200, served.headers, b"", cache=served.cache)
        if served.ok is not None:
            return served.ok
        response = Response(200, served.headers, self.body(served), cache=served.cache)
        if served.body is not None:
            # PERF: answered as it is from now on (~0.15 µs); a Response is never changed once made.
            served.ok = response
        return response

    def body(self, served: Served) -> bytes:
        """The bytes of ``served``, read from ``dist/`` the first time."""
        body = served.body
        if body is None:
            assert served.span is not None  # only bodies held from the start have none
            body = self.dist.body(served.span)
            if len(body) <= self.budget:
                self.budget -= len(body)
                served.body = body
        return body


ErrorBody = tuple[Served, Headers]  # a body (read through Bodies) and its headers as answered


def _error_page(page: StoredPage) -> tuple[ErrorBody, tuple[ErrorBody | None, ErrorBody | None] | None]:
    """An error page's identity answer and its (brotli, gzip) ones, None where it has none."""
    if page.html_br is None and page.html_gz is None:
        return (Served(page.html, page.html_etag, page.headers), page.headers), None
    varied = page.headers + [VARY_ENCODING]
    copies = tuple(None if span is None else
                   (Served(span, page.html_etag, page.headers), varied + [("content-encoding", name)])
                   for span, name in zip((page.html_br, page.html_gz), ENCODING_NAMES, strict=True))
    return (Served(page.html, page.html_etag, page.headers), varied), (copies[0], copies[1])


class ErrorPages:
    """The error page of each status and locale, and JSON errors (no exception text, ever).

    Error answers carry no ETag (nothing to revalidate: they are ``no-store``, and a 404
    must not answer 304 to a validator) and no ``x-perseus-cache``: no page was served.

    The statuses of ``ERROR_STATUSES`` are prerendered; any other 4xx or 5xx (a state
    function raising ``perseus.HTTPError``) is rendered by ``render`` when first answered
    and kept (at most 200 statuses per locale). An ``HTTPError`` with a message is
    rendered for each answer (its error view may show the message), never kept.
    """

    def __init__(self, dist: Dist, bodies: Bodies, default_locale: str, render: RenderError) -> None:
        self.bodies = bodies
        self.default_locale = default_locale
        self.render = render
        self.pages = {locale: {status: _error_page(page) for status, page in by_status.items()}
                      for locale, by_status in dist.errors.items()}
        # The error view's page JSON (for client navigations), without an ETag as the HTML.
        self.json_pages = {locale: {status: Served(page.json, page.json_etag, []) for status, page
                                    in by_status.items()} for locale, by_status in dist.errors.items()}

    def answer(self, status: int, method: str, form: Form, locale: str | None = None,
               detail: str | None = None, accept_encoding: str | None = None) -> Response:
        """The error answer for ``status`` in ``form``: the locale's error page (compressed
        as ``accept_encoding`` takes it, where it has copies), or JSON.

        ``detail`` is a message a state function gave, for the error view alone.
        """
        if form is JSON:
            return self.json(status, method, locale, detail)
        known = locale if locale is not None and locale in self.pages else self.default_locale
        found = self.pages[known].get(status) if detail is None else None
        if found is None:
            found = self._rendered(status, known, detail)
        identity, copies = found
        page, headers = identity
        if copies is not None and accept_encoding:
            page, headers = pick(copies, accept_encoding) or identity
        body = self.bodies.body(page) if method != "HEAD" else b""
        return Response(status, headers + [ALLOW] if status == 405 else headers, body)

    def _rendered(self, status: int, locale: str, detail: str | None) -> tuple[ErrorBody, None]:
        """The error page of a status the build did not prerender, rendered now."""
        page = self._render(status, locale, detail)
        found = (Served(None, page.html_etag, page.headers, body=page.html), page.headers), None
        if detail is None:
            self.pages[locale][status] = found
            self.json_pages[locale][status] = Served(None, page.json_etag, [], body=page.json)
        return found

    def _render(self, status: int, locale: str, detail: str | None) -> RenderedPage:
        message = error_message(status)
        try:
            return self.render(status, message, locale, detail, True)
        except Exception as error:  # the app's error view failed: the plain page, logged
            log.error("the error view for %d failed: %s: %s; answered with the plain error page",
                      status, type(error).__name__, error, exc_info=True)
            return self.render(status, message, locale, None, False)

    def json(self, status: int, method: str, locale: str | None = None, detail: str | None = None,
             ) -> Response:
        """The JSON error answer: the error page's JSON (``{"error": {"status", "message"},
        "state", "head", "content", ...}``), so a client navigation can show the view."""
        headers = JSON_ERROR_HEADERS + [ALLOW] if status == 405 else JSON_ERROR_HEADERS
        if method == "HEAD":
            return Response(status, headers, b"")
        known = locale if locale is not None and locale in self.json_pages else self.default_locale
        found = self.json_pages[known].get(status) if detail is None else None
        if found is None:
            if detail is not None:
                return Response(status, headers, self._render(status, known, detail).json)
            self._rendered(status, known, None)
            found = self.json_pages[known][status]
        return Response(status, headers, self.bodies.body(found))


class Built:
    """The strategy of prerendered pages (build paths, build state, none): bytes as built."""

    def __init__(self, bodies: Bodies) -> None:
        self.bodies = bodies

    def answer(self, request: PageRequest) -> Response:
        served = request.page.served
        assert served is not None  # every prerendered page has its built answers
        return self.bodies.send(request.method, served[request.form.index], request.headers)
