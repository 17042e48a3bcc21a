"""The build's link check: every ``ctx.link()`` a built page made reaches something the site serves.

Pages record their links as they are rendered (``RenderContext.link_log``, a list the
builder owns); once every page is rendered, ``broken_links`` looks each one up among
what the site answers. A link no template serves is a warning, or with ``--strict``
(``PERSEUS_STRICT``) a page failure, naming the page, the link and the closest path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from ..app import PerseusApp
from ..errors import PageFailure
from ..http.urls import page_url
from ..i18n.locales import NO_LOCALE

# (template, page path without locale, locale, the URL ctx.link gave)
LinkUse = tuple[str, str, str, str]
# PERF: a suggestion compares a broken link's last segment with those of its siblings
# (about 10 ms among 5,000); past this many distinct broken links the rest are named
# without one, so a build whose 5,000 pages all link somewhere wrong stays quick.
MAX_SUGGESTIONS = 20
PERSEUS_URLS = "/.perseus/"
ERROR_PAGES = "the error pages"  # what a link of an error view (ctx.template "") is "on"


class BrokenLinkError(ValueError):
    """A ``ctx.link()`` to a path no template serves, under ``--strict``."""


@dataclass
class BrokenLink:
    """One link target no template serves, and the pages that link to it.

    Attributes:
        link: the URL path as ``ctx.link`` gave it, without the base path.
        pages: ``(template, page URL, locale)`` of each page that links to it, in build order.
        suggestion: the closest path the site serves, or None.
    """

    link: str
    pages: list[tuple[str, str, str]] = field(default_factory=list)
    suggestion: str | None = None

    @property
    def hint(self) -> str:
        return f"; did you mean {self.suggestion}?" if self.suggestion else ""

    def message(self) -> str:
        """What the build prints: the link, who links to it, and the closest served path."""
        urls = [url for _, url, _ in self.pages]
        named = ", ".join(urls[:3]) + (f" and {len(urls) - 3} more" if len(urls) > 3 else "")
        return f"ctx.link {self.link} on {named} goes to no page{self.hint}"

    def failures(self) -> list[PageFailure]:
        """This link as a failure of each page that makes it (``--strict``)."""
        return [PageFailure(template or "(error views)", None, locale, "ctx.link",
                            BrokenLinkError(f"ctx.link {self.link} on {url} goes to no page{self.hint}"))
                for template, url, locale in self.pages]


class ServedPaths:
    """What the site answers: built pages, incremental roots, static aliases, redirect
    sources, mounts and perseus's own URLs, as URL paths without the base path."""

    def __init__(self, app: PerseusApp, pages: Iterable[tuple[str, str]], locales: list[str]) -> None:
        self.exact: set[str] = {page_url(_locale(locale), path) for path, locale in pages}
        self.exact.update(app.static_aliases)
        self.exact.update(app.redirects)
        self.below: list[str] = []  # every path below these (incremental templates) is served
        for template in app.templates:
            if template.incremental:
                for locale in locales:
                    root = page_url(_locale(locale), template.root)
                    self.exact.add(root)
                    self.below.append(root.rstrip("/") + "/")
        self.mounts = app.mounts
        self._leaves: dict[str, list[str]] | None = None  # parent path -> last segments below it

    def __contains__(self, path: str) -> bool:
        return (path in self.exact or path.startswith(PERSEUS_URLS)
                or any(path.startswith(prefix) for prefix in self.below)
                or self.mounts.find(path) is not None)

    def closest(self, path: str) -> str | None:
        """The served path most like ``path``, if one is close: its parent (or the closest
        parent that exists), then the closest last segment there."""
        if self._leaves is None:
            self._leaves = {}
            for served in sorted(self.exact):
                parent, _, leaf = served.rpartition("/")
                self._leaves.setdefault(parent, []).append(leaf)
        parent, _, leaf = path.rpartition("/")
        if parent not in self._leaves:
            near = difflib.get_close_matches(parent, list(self._leaves), 1, 0.6)
            if not near:
                return None
            parent = near[0]
        leaves = self._leaves[parent]
        close = [leaf] if leaf in leaves else difflib.get_close_matches(leaf, leaves, 1, 0.6)
        return f"{parent}/{close[0]}" if close else None


def broken_links(uses: Iterable[LinkUse], served: ServedPaths, base_path: str) -> list[BrokenLink]:
    """Each link target of ``uses`` that ``served`` does not answer, with the pages linking to it."""
    broken: dict[str, BrokenLink] = {}
    verdicts: dict[str, bool] = {}  # PERF: the same link from 5,000 pages is looked up once
    for template, path, locale, url in uses:
        target = link_target(url, base_path)
        ok = verdicts.get(target)
        if ok is None:
            ok = verdicts[target] = target in served
        if ok:
            continue
        entry = broken.get(target)
        if entry is None:
            entry = broken[target] = BrokenLink(target)
            if len(broken) <= MAX_SUGGESTIONS:
                entry.suggestion = served.closest(target)
        page = (template, page_url(_locale(locale), path) if template else ERROR_PAGES, locale)
        if not entry.pages or entry.pages[-1] != page:
            entry.pages.append(page)
    return list(broken.values())


def link_target(url: str, base_path: str) -> str:
    """The path ``url`` (a ``ctx.link`` result) asks for: no base path, query, fragment,
    escapes or trailing slash (the server answers ``/a/`` as ``/a``)."""
    path = url[len(base_path):] if base_path and url.startswith(base_path) else url
    path = unquote(path.partition("#")[0].partition("?")[0])
    return path.rstrip("/") or "/"


def _locale(locale: str) -> str | None:
    return None if locale == NO_LOCALE else locale
