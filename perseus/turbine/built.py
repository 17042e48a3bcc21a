"""Built pages: answering with bodies the build rendered, error pages included.

No user code runs here. ``Bodies.send`` answers with a ``Served`` body: its gzip copy
where the client accepts one, 304 where the client has it, and the whole 200 answer
kept once made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import orjson

from ..http.bodies import ERROR_CACHE, JSON_TYPE, RenderedPage
from ..http.encoding import accepts_gzip
from ..http.response import Response, error_message, etag_matches
from ..stores.immutable import Dist
from .pages import JSON, Form, PageRequest, Served

log = logging.getLogger("perseus.request")
ALLOW = ("allow", "GET, HEAD")
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
        # PERF: one attribute test for bodies without a gzip copy (and wrk sends no Accept-Encoding).
        if served.gz is not None and accepts_gzip(headers.get("accept-encoding")):
            served = served.gz
        if etag_matches(headers.get("if-none-match"), served.etag):
            return Response(304, served.not_modified_headers)
        if method != "GET":
            return Response(200, served.headers, b"")
        if served.ok is not None:
            return served.ok
        response = Response(200, served.headers, self.body(served))
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


class ErrorPages:
    """The error page of each status and locale, and JSON errors (no exception text, ever).

    The statuses of ``ERROR_STATUSES`` are prerendered; any other 4xx or 5xx (a state
    function raising ``perseus.HTTPError``) is rendered by ``render`` when first answered
    and kept (at most 200 statuses per locale). An ``HTTPError`` with a message is
    rendered for each answer (its error view may show the message), never kept.
    """

    def __init__(self, dist: Dist, bodies: Bodies, default_locale: str, render: RenderError) -> None:
        self.bodies = bodies
        self.default_locale = default_locale
        self.render = render
        self.pages = {
            locale: {status: Served(page.html, page.html_etag, page.headers)
                     for status, page in by_status.items()}
            for locale, by_status in dist.errors.items()
        }

    def answer(self, status: int, method: str, form: Form, locale: str | None = None,
               detail: str | None = None) -> Response:
        """The error answer for ``status`` in ``form``: the locale's error page, or JSON.

        ``detail`` is a message a state function gave, for the error view alone.
        """
        if form is JSON:
            return self.json(status, method)
        known = locale if locale is not None and locale in self.pages else self.default_locale
        page = self.pages[known].get(status) if detail is None else None
        if page is None:
            page = self._rendered(status, known, detail)
        body = self.bodies.body(page) if method != "HEAD" else b""
        return Response(status, page.headers + [ALLOW] if status == 405 else page.headers, body)

    def _rendered(self, status: int, locale: str, detail: str | None) -> Served:
        """The error page of a status the build did not prerender, rendered now."""
        message = error_message(status)
        try:
            page = self.render(status, message, locale, detail, True)
        except Exception as error:  # the app's error view failed: the plain page, logged
            log.error("the error view for %d failed: %s: %s; answered with the plain error page",
                      status, type(error).__name__, error, exc_info=True)
            page = self.render(status, message, locale, None, False)
        served = Served(None, page.html_etag, page.headers, body=page.html)
        if detail is None:
            self.pages[locale][status] = served
        return served

    def json(self, status: int, method: str) -> Response:
        body = (orjson.dumps({"error": {"status": status, "message": error_message(status)}})
                if method != "HEAD" else b"")
        headers = [("content-type", JSON_TYPE), ("cache-control", ERROR_CACHE)]
        return Response(status, headers + [ALLOW] if status == 405 else headers, body)


class Built:
    """The strategy of prerendered pages (build paths, build state, none): bytes as built."""

    def __init__(self, bodies: Bodies) -> None:
        self.bodies = bodies

    def answer(self, request: PageRequest) -> Response:
        served = request.page.served
        assert served is not None  # every prerendered page has its built answers
        return self.bodies.send(request.method, served[request.form.index], request.headers)
