"""The page table: every page of every locale, with its kind, made once when a site opens.

Routing (``perseus_core.routing.Router.resolve``) turns a request path into a route key's
id and a locale; the table turns those into a ``Page``, whose ``kind`` (assigned by
``perseus_core.plan.page_kind``) says which strategy module answers it. A strategy takes
one ``PageRequest`` and returns a ``Response``.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

from perseus_core.plan import (
    BUILT_PAGE,
    GENERATED,
    REVALIDATING,
    SERVER_FLAGS,
    UNBUILT_PAGE,
    RecordMeta,
    page_kind,
)
from perseus_core.routing import Router

from ..app import PerseusApp
from ..errors import DistError
from ..http.bodies import (
    BR,
    COMPRESS_MIN_BODY,
    ENCODING_NAMES,
    ON_THE_FLY_BROTLI,
    ON_THE_FLY_GZIP,
    VARY_ENCODING,
    brotli_copy,
    encoded_etag,
    gzip_copy,
)
from ..http.caching import CachePolicy, page_headers
from ..http.encoding import Copies
from ..http.response import HIT, MISS, NO_CACHE_STATUS, Headers, Response
from ..http.urls import page_data_url, page_url
from ..i18n.locales import NO_LOCALE
from ..stores.immutable import Dist, Span, StoredPage
from ..stores.records import PageVersion
from ..template import Template
from .regeneration import PageRef
from .strategies import page_flags

_NOT_MODIFIED_HEADERS = ("cache-control", "etag", "vary", "x-perseus-cache")
# A compressed copy: where it lies in dist/ (a span) or its bytes; None: there is none.
Copy = Span | bytes | None


class Form:
    """Which of a page's two answers a request asks for: its HTML document or its JSON.

    ``index`` picks it from every pair a page keeps (``Page.served``, a stored
    version's bodies), so no strategy asks "is this JSON?" along the way.
    """

    __slots__ = ("index", "name")

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name

    def __repr__(self) -> str:
        return f"<Form {self.name}>"


HTML = Form(0, "html")
JSON = Form(1, "json")


class Served:
    """One body ready to answer with: where it lies, its ETag and complete headers.

    ``variants`` are its (brotli, gzip) copies, each None where it has none, sent instead
    to clients that take them (None: no copy at all); ``span`` is None for a body held in
    memory from the start (``body``); ``cache`` is the cache status its answers carry
    (``Response.cache``, the same as their ``x-perseus-cache`` header).
    """

    __slots__ = ("span", "etag", "headers", "not_modified_headers", "body", "ok", "variants", "cache")

    def __init__(self, span: Span | None, etag: str, headers: Headers, body: bytes | None = None,
                 cache: str = NO_CACHE_STATUS) -> None:
        self.span = span
        self.body = body  # else kept by Bodies within its budget
        self.ok: Response | None = None  # the whole 200 answer, once the body is kept
        self.variants: Copies[Served] | None = None
        self.cache = cache
        self.etag = etag
        self.headers = headers + [("etag", etag)]
        # NOTE: the same tuples as self.headers: 20,000 pages would otherwise hold 40,000 more.
        self.not_modified_headers = [h for h in self.headers if h[0] in _NOT_MODIFIED_HEADERS]


def _held(copy: Span | bytes) -> tuple[Span | None, bytes | None]:
    return (None, copy) if isinstance(copy, bytes) else (copy, None)


def served(span: Span | None, tag: str, headers: Headers, body: bytes | None = None,
           copies: tuple[Copy, Copy] = (None, None), cache: str = NO_CACHE_STATUS) -> Served:
    """A body, with its (brotli, gzip) ``copies`` where it has them."""
    if copies[0] is None and copies[1] is None:
        return Served(span, tag, headers, body, cache)
    varied = headers + [VARY_ENCODING]
    answer = Served(span, tag, varied, body, cache)
    variants: list[Served | None] = []
    for encoding, copy in enumerate(copies):
        if copy is None:
            variants.append(None)
            continue
        copy_span, copy_body = _held(copy)
        variants.append(Served(copy_span, encoded_etag(tag, encoding),
                               varied + [("content-encoding", ENCODING_NAMES[encoding])], copy_body, cache))
    answer.variants = (variants[0], variants[1])
    return answer


def built_answers(stored: StoredPage, html_headers: Headers, json_headers: Headers,
                  cache: str) -> tuple[Served, Served]:
    """A prerendered page's two answers (HTML, JSON), as ``Form.index`` picks them."""
    return (served(stored.html, stored.html_etag, html_headers, copies=(stored.html_br, stored.html_gz),
                   cache=cache),
            served(stored.json, stored.json_etag, json_headers, copies=(stored.json_br, stored.json_gz),
                   cache=cache))


def version_answer(version: PageVersion, form: Form, cache: str, cache_control: str) -> Served:
    """The answer with a stored version in ``form`` as ``cache`` (HIT, STALE, GENERATED,
    MISS) under ``cache_control``: made once per version, form and status, then kept with
    the version (a version is of one template, so its Cache-Control never changes)."""
    key = (form.index, cache)
    answer: Served | None = version.answers.get(key)
    if answer is None:
        body, tag, headers, copies = version.forms[form.index]
        headers = page_headers(headers, cache_control, cache)
        if copies == (None, None) and len(body) >= COMPRESS_MIN_BODY:
            answer = lazily_compressed(tag, headers, body, cache)  # a first generation's version
        else:
            answer = served(None, tag, headers, body, copies, cache)
        version.answers[key] = answer
    return answer


class LazyCopies:
    """A body's (brotli, gzip) answers, each compressed when a request first takes it
    (fast levels: a visitor waits), or None where compressing it did not pay."""

    __slots__ = ("_of", "_made")

    def __init__(self, of: Served) -> None:
        self._of = of
        self._made: list[Served | None | bool] = [False, False]  # False: not compressed yet

    def __getitem__(self, encoding: int) -> Served | None:
        made = self._made[encoding]
        if made is False:
            of = self._of
            assert of.body is not None
            copy = (brotli_copy(of.body, ON_THE_FLY_BROTLI) if encoding == BR
                    else gzip_copy(of.body, ON_THE_FLY_GZIP))
            made = self._made[encoding] = None if copy is None else Served(
                None, encoded_etag(of.etag, encoding),
                of.headers[:-1] + [("content-encoding", ENCODING_NAMES[encoding])], copy, of.cache)
        assert made is not True
        return made


def lazily_compressed(tag: str, headers: Headers, body: bytes, cache: str) -> Served:
    """A body served as is, or compressed as a client takes it when it first asks
    (``LazyCopies``): a version stored without copies."""
    answer = Served(None, tag, headers + [VARY_ENCODING], body, cache)
    # NOTE: the ETag is the last header (Served appends it); copies carry their own.
    answer.variants = LazyCopies(answer)
    return answer


class Page:
    """One page of the site in one locale, as every strategy sees it.

    ``kind`` is the static half of the plan (``perseus_core.plan.page_kind``): for a
    prerendered page or one rendered per request, ``plan`` depends on nothing else, so
    the kind alone picks the strategy; revalidating and generated pages ask ``plan`` on
    every request. ``served`` holds its built answers (HTML, JSON) where the build
    rendered it, ``built_meta`` what ``plan`` needs of that built copy, ``build_state``
    the build half of a page rendered per request. ``ref`` (what state functions, the
    store and regeneration need) is made when first used: a prerendered page never
    needs one.
    """

    __slots__ = ("kind", "flags", "template", "locale", "full", "extra", "url", "served",
                 "built_meta", "build_state", "_ref")

    def __init__(self, kind: int, flags: int, template: Template, locale: str, full: str, extra: Any,
                 url: str, served: tuple[Served, Served] | None = None) -> None:
        self.kind = kind
        self.flags = flags
        self.template = template
        self.locale = locale
        self.full = full  # the page's path below the site root: template root + sub-path
        self.extra = extra
        self.url = url
        self.served = served
        self.built_meta: RecordMeta | None = None
        self.build_state: Any = None
        self._ref: PageRef | None = None

    @property
    def data_url(self) -> str:
        """The URL of the page's JSON (made when asked: most pages are asked for as HTML)."""
        return page_data_url(self.locale, self.full)

    @property
    def ref(self) -> PageRef:
        ref = self._ref
        if ref is None:
            root = self.template.root
            path = self.full if not root else self.full[len(root) + 1:]
            ref = self._ref = PageRef(self.template, path, self.locale, self.extra, self.kind != GENERATED)
        return ref


class PageRequest:
    """One request for one page: what every strategy module takes."""

    __slots__ = ("method", "path", "headers", "query", "page", "form")

    def __init__(self, method: str, path: str, headers: Mapping[str, str], query: str, page: Page,
                 form: Form) -> None:
        self.method = method
        self.path = path  # as asked for (decoded once); the page's own is page.url
        self.headers = headers
        self.query = query
        self.page = page
        self.form = form


def templates_of(app: PerseusApp, dist: Dist) -> dict[str, Template]:
    """The app's templates by name; every template the build rendered pages of must be there.

    Raises:
        DistError: ``dist`` was built from an app with other templates.
    """
    templates = {t.name: t for t in app.templates}
    built = {*dist.pages.templates, *(name for _, _, name, _ in dist.deferred)}
    gone = sorted(built - set(templates))
    if gone:
        names = ", ".join(f"'{name}'" for name in gone)
        raise DistError(f"{dist.path} holds pages of template(s) {names}, which the app does not have:"
                        " run `perseus build` again")
    return templates


class PageTable:
    """Every page of a built site by (locale index, route id), and the router that finds them.

    Prerendered pages are made into ``Page`` objects when first asked for (a site of
    many pages starts fast and holds objects only for the pages it serves); pages that
    run code at request time are made when the table is.
    """

    def __init__(self, app: PerseusApp, dist: Dist, json_headers: Headers, policy: CachePolicy) -> None:
        self.dist = dist
        self.policy = policy
        # Built header lists with each strategy's Cache-Control and status, made once per set:
        # 20,000 pages share a handful (keyed by the id of a list the dist holds for good).
        self._header_sets: dict[tuple[int, str, str], Headers] = {}
        self.locales: list[str] = dist.render_conf["locales"]
        self.i18n = dist.render_conf.get("default_locale", NO_LOCALE) != NO_LOCALE
        self._json_headers = json_headers
        self._templates = templates_of(app, dist)
        # PERF: each template's flags read once (a new incremental path makes a page per request).
        self._flags = {t.name: page_flags(app, t) for t in app.templates}
        self._extras = {name: dist.extra(name) for name, flags in self._flags.items() if flags & SERVER_FLAGS}
        keys: dict[str, int] = {}  # route key -> route id, what the router matches
        index = dist.pages
        # Per locale: the built page's id in the dist index, by route id (-1: none).
        # PERF: flat arrays, not dicts: 10,000 pages cost 40 KB per locale, not 1 MB.
        self._built_ids = [array("i", [-1]) * len(index.paths) for _ in self.locales]
        self._pages: list[dict[int, Page]] = [{} for _ in self.locales]
        locale_ids = {index.locales.index(locale): i for i, locale in enumerate(self.locales)
                      if locale in index.locales}
        for i, path in enumerate(index.paths):
            self._built_ids[locale_ids[index.locale_ids[i]]][keys.setdefault(path, len(keys))] = i
        for path, locale, name, state in dist.deferred:  # pages rendered per request
            locale_index, template = self.locales.index(locale), self._templates[name]
            page = self._page(BUILT_PAGE, template, path, locale_index)
            page.build_state = state
            page.built_meta = RecordMeta(dist.built_at, 0.0, False)
            self._pages[locale_index][keys.setdefault(path, len(keys))] = page
        # Revalidating pages read the store on every request: made now, with their built copy.
        revalidating = {i for i, name in enumerate(index.templates) if self._templates[name].revalidates}
        for locale_index, built in enumerate(self._built_ids):
            for route, dist_id in enumerate(built):
                if dist_id >= 0 and index.template_ids[dist_id] in revalidating:
                    self.page(locale_index, route)
        self.incremental = [t for t in app.templates if t.incremental]
        self.router = Router(keys, {t.root: i for i, t in enumerate(self.incremental)},
                             self.locales if self.i18n else ())

    def _page(self, route: int, template: Template, full: str, locale_index: int,
              served: tuple[Served, Served] | None = None) -> Page:
        """A page of ``template`` that routing found as ``route`` (BUILT_PAGE or UNBUILT_PAGE)."""
        locale = self.locales[locale_index]
        flags = self._flags[template.name]
        url = page_url(locale if self.i18n else None, full)
        return Page(page_kind(route, flags), flags, template, locale, full, self._extras.get(template.name),
                    url, served)

    def page(self, locale_index: int, route: int) -> Page | None:
        """The page at route id ``route`` in the locale, or None if that locale has none."""
        pages = self._pages[locale_index]
        page = pages.get(route)
        if page is None:
            built = self._built_ids[locale_index]
            dist_id = built[route] if route < len(built) else -1
            if dist_id < 0:
                return None
            stored = self.dist.pages.page(dist_id)
            template = self._templates[stored.template]
            # A revalidating page answered from the build's copy: its stored version is missing.
            cache = MISS if template.revalidates else HIT
            control = self.policy.of(template.revalidates, template.revalidate_after, False)
            answers = built_answers(stored, self._headers(stored.headers, control, cache),
                                    self._headers(self._json_headers, control, cache), cache)
            page = pages[route] = self._page(BUILT_PAGE, template, stored.path, locale_index, answers)
            if page.kind == REVALIDATING:
                interval = template.revalidate_after
                due = self.dist.built_at + interval if interval else 0.0
                page.built_meta = RecordMeta(self.dist.built_at, due, False)
        return page

    def _headers(self, built: Headers, cache_control: str, cache: str) -> Headers:
        key = (id(built), cache_control, cache)
        headers = self._header_sets.get(key)
        if headers is None:
            headers = self._header_sets[key] = page_headers(built, cache_control, cache)
        return headers

    def unbuilt(self, locale_index: int, template_id: int, full: str) -> Page:
        """A page below incremental template ``template_id`` that the build did not render.

        Made per request and never kept: unknown paths must not grow the table.
        """
        template = self.incremental[template_id]
        return self._page(UNBUILT_PAGE, template, full, locale_index)

