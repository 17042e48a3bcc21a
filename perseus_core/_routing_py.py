"""Pure-Python twin of ``_routing_c``: route matching over the render configuration.

A route key is a normalised path without its locale (``post/a``; ``""`` for the
index). A request path resolves to the exact page first, else to the most specific
incremental template whose root is a prefix of it (the key itself included, so
``/post`` is the root page of incremental ``post``; ``""`` catches every path),
else to nothing. With locales, the first segment must be one of them.

Routing is linear in the path's length: only the prefixes that could be an incremental
root (no deeper and no longer than the deepest and the longest root) are looked up.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from ._paths_py import normalize_path
from .errors import wrong_type

PAGE = 0
"""Verdict: a page listed in the render configuration; the id is the page's."""
INCREMENTAL = 1
"""Verdict: no page, but an incremental template covers the path; the id is the template's."""
NOT_FOUND = 2
"""Verdict: nothing serves this path (id -1)."""
NO_LOCALE = 3
"""Verdict (i18n only): the first segment is not a locale; redirect to a negotiated one."""


def check_routes(pages: Mapping[str, int], incremental: Mapping[str, int], locales: Sequence[str]) -> None:
    """Refuse route keys that are not normalised (they could never match), ids that are
    not integers from 0 to ``sys.maxsize``, and locales that are not a single path
    segment. Shared by both twins, so both refuse alike.

    Raises:
        TypeError: a key or locale that is not text, an id that is not an integer.
        ValueError: a key, id or locale that could never match.
    """
    for kind, routes in (("page", pages), ("incremental", incremental)):
        if not isinstance(routes, Mapping):
            raise wrong_type(f"{kind} routes", "a mapping", routes)
        for key, ident in routes.items():
            if normalize_path(key) != key:
                normal = normalize_path(key)
                raise ValueError(f"{kind} route {key!r} is not a normalised path (try {normal!r})")
            if not isinstance(ident, int):
                raise TypeError(f"{kind} route {key!r} has an id that is not an integer: {ident!r}")
            if ident < 0:
                raise ValueError(f"{kind} route {key!r} has a negative id {ident}")
            if ident > sys.maxsize:  # NOTE: the compiled twin keeps ids in a C Py_ssize_t
                raise ValueError(f"{kind} route {key!r} has an id above {sys.maxsize}: {ident}")
    for locale in locales:
        if not isinstance(locale, str):
            raise wrong_type("a locale", "str", locale)
        if not locale or "/" in locale or normalize_path(locale) != locale:
            raise ValueError(f"locale {locale!r} cannot be a path segment")


def route_table(routes: Mapping[str, int]) -> dict[str, int]:
    """A checked route table as both twins keep it: ids as plain ints (``True`` is 1)."""
    return {key: int(ident) for key, ident in routes.items()}


def root_depth(incremental: Mapping[str, int]) -> int:
    """How many segments the deepest incremental root has (0 for none, or only ``""``)."""
    return max([key.count("/") + 1 for key in incremental if key], default=0)


class Router:
    """Matches request paths to page ids and incremental template ids.

    Args:
        pages: route key -> page id (>= 0).
        incremental: route key of an incremental template's root -> template id (>= 0).
        locales: the app's locales when i18n is on; ``resolve`` then reads the first
            segment of a path as the locale. Empty: no i18n.
    """

    def __init__(self, pages: Mapping[str, int], incremental: Mapping[str, int],
                 locales: Sequence[str] = ()) -> None:
        check_routes(pages, incremental, locales)
        self.pages = route_table(pages)
        self.incremental = route_table(incremental)
        self.locales = tuple(locales)
        self._locale_ids = {locale: i for i, locale in enumerate(self.locales)}
        self._root_depth = root_depth(self.incremental)
        self._root_length = max(map(len, self.incremental), default=0)

    def match(self, key: str) -> tuple[int, int]:
        """Match a route key (normalised, no locale): ``(PAGE, page_id)``,
        ``(INCREMENTAL, template_id)`` or ``(NOT_FOUND, -1)``."""
        if not isinstance(key, str):
            raise wrong_type("key", "str", key)
        page = self.pages.get(key, -1)
        if page >= 0:
            return PAGE, page
        return self._incremental(key)

    def resolve(self, path: str) -> tuple[int, int, int]:
        """Match a decoded request path: ``(verdict, id, locale_index)``.

        The locale index is -1 without i18n, and the id is -1 for ``NOT_FOUND``
        and ``NO_LOCALE``.

        Raises:
            BadPath: the path holds a control character, U+FFFD or a ``%``.
        """
        key = normalize_path(path)
        locale = -1
        if self.locales:
            head, _, key = key.partition("/")
            locale = self._locale_ids.get(head, -1)
            if locale < 0:
                return NO_LOCALE, -1, -1
        page = self.pages.get(key, -1)
        if page >= 0:
            return PAGE, page, locale
        kind, template = self._incremental(key)
        return kind, template, locale

    def _incremental(self, key: str) -> tuple[int, int]:
        if self.incremental:
            # PERF: hashing every prefix of a 64 KB path of short segments took 260 ms:
            # only prefixes that could be a root are looked up (at most depth + 1), those
            # no longer than the longest root and of no more segments than the deepest.
            end = len(key)
            if end > self._root_length:
                end = max(key.rfind("/", 0, self._root_length + 1), 0)
            if key.count("/", 0, end) >= self._root_depth:
                end = self._deepest_end(key, end)
            prefix = key[:end]
            while True:
                template = self.incremental.get(prefix, -1)
                if template >= 0:
                    return INCREMENTAL, template
                if not prefix:
                    break
                cut = prefix.rfind("/")
                prefix = prefix[:cut] if cut > 0 else ""
        return NOT_FOUND, -1

    def _deepest_end(self, key: str, end: int) -> int:
        """Where the prefix of ``key[:end]`` with as many segments as the deepest root ends."""
        at = -1
        for _ in range(self._root_depth):
            at = key.find("/", at + 1, end)
        return max(at, 0)
