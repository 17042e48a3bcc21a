"""Redirect answers: raised by state functions at request time, built as pages, or fixed by
``PerseusApp(redirects=...)``.

An HTML request gets the status and ``Location`` (and a tiny page with the link). The
page-data route (``/.perseus/page/<locale>/<path>.json``) answers ``200`` with
``{"redirect": "<location>", "status": <status>}`` instead: a ``fetch`` would follow a
3xx to the target's HTML on its own and never tell the client runtime where it went,
so the runtime reads the JSON and navigates to the target itself (as Next.js does with
``__N_REDIRECT``).

The redirects known before any request (fixed and built) are one table, looked up
before routing; its answers are made once.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from perseus_core._escape import escape_html

from ..app import PerseusApp
from ..http.bodies import BUILT_PAGE_CACHE, HTML_TYPE, JSON_TYPE
from ..http.location import location_for, with_query
from ..http.response import Response
from ..http.urls import page_data_url, page_url
from .pages import HTML, JSON, Form


def redirect_page(location: str) -> bytes:
    """The small HTML body of a redirect answer: a link to the target."""
    href = escape_html(location)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Redirecting</title></head>'
            f'<body><p>Redirecting to <a href="{href}">{href}</a></p></body></html>\n').encode()


def redirect_answer(status: int, location: str, method: str, form: Form, cache_control: str) -> Response:
    """The answer that sends a visitor (or the client runtime, for ``form`` JSON) to ``location``."""
    get = method != "HEAD"
    if form is JSON:
        body = orjson.dumps({"redirect": location, "status": status}) if get else b""
        return Response(200, [("content-type", JSON_TYPE), ("cache-control", cache_control)], body)
    headers = [("location", location), ("content-type", HTML_TYPE), ("cache-control", cache_control)]
    return Response(status, headers, redirect_page(location) if get else b"")


class KnownRedirect:
    """A redirect known before any request (fixed or built), with its answers made once."""

    __slots__ = ("status", "location", "form", "get", "head")

    def __init__(self, status: int, location: str, form: Form) -> None:
        self.status = status
        self.location = location
        self.form = form
        # NOTE: like a built page, revalidated by browsers: a rebuild that drops it is seen at once.
        self.get = redirect_answer(status, location, "GET", form, BUILT_PAGE_CACHE)
        self.head = redirect_answer(status, location, "HEAD", form, BUILT_PAGE_CACHE)

    def answer(self, method: str, query: str) -> Response:
        """The answer to any method (307 and 308 tell the client to repeat it at the target);
        an HTML request's query string is passed on when the target has none."""
        if query and self.form is not JSON:
            location = with_query(self.location, query)
            if location != self.location:
                return redirect_answer(self.status, location, method, self.form, BUILT_PAGE_CACHE)
        return self.head if method == "HEAD" else self.get


def fixed_redirects(app: PerseusApp, base_path: str) -> list[tuple[str, int, str]]:
    """``PerseusApp(redirects=...)`` as (source, status, location), locations with the base path."""
    return [(source, r.status, location_for(r.location, r.external, base_path))
            for source, r in app.redirects.items()]


def redirect_table(fixed: Iterable[tuple[str, int, str]], built: Iterable[tuple[str, str, str, int, str]],
                   i18n: bool, locales: list[str]) -> dict[str, KnownRedirect]:
    """Request path -> its redirect, for ``fixed`` (source, status, location) and the
    ``built`` pages (path, locale, template, status, location), each at its URL with and
    without a trailing slash and, for pages, at its JSON URL too."""
    table: dict[str, KnownRedirect] = {}
    for source, status, location in fixed:
        _add(table, source, KnownRedirect(status, location, HTML))
        # A fixed source that names a page URL of a locale gets its JSON URL too, so that
        # client-side navigation to it follows the redirect without a full load.
        locale, _, rest = source.lstrip("/").partition("/") if i18n else ("", "", source.lstrip("/"))
        if not i18n or locale in locales:
            data = page_data_url(locale if i18n else locales[0], rest.rstrip("/"))
            table.setdefault(data, KnownRedirect(status, location, JSON))
    for path, locale, _template, status, location in built:
        _add(table, page_url(locale if i18n else None, path), KnownRedirect(status, location, HTML))
        table[page_data_url(locale, path)] = KnownRedirect(status, location, JSON)
    return table


def _add(table: dict[str, KnownRedirect], url: str, redirect: KnownRedirect) -> None:
    table[url] = redirect
    if url != "/":
        table[url + "/"] = redirect

