"""What a build shows its plugins, and the files they write into it (served at their URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import ConfigurationError
from ..i18n.locales import NO_LOCALE

# In a dist: {url: file below PLUGIN_DIR}, what the server answers at each URL.
PLUGIN_FILES = "plugin-files.json"
PLUGIN_DIR = "plugin-files"
RESERVED = "/.perseus/"


@dataclass(frozen=True, slots=True)
class BuiltPageInfo:
    """One page the build prerendered (or keeps for rendering per request).

    Attributes:
        template: its template's name.
        path: its path below the site (``"post/a"``, ``""`` for the index).
        locale: its locale (``xx-XX`` without i18n).
        url: its URL path as visitors see it, with base path and locale.
        state: its build state, for templates a plugin named in ``page_states`` (else None).
    """

    template: str
    path: str
    locale: str
    url: str
    state: Any = None


class BuiltSite:
    """The build ``after_build`` gets: its pages, and ``write`` for files served at a URL."""

    def __init__(self, folder: Path, build_id: str, base_path: str, locales: list[str],
                 pages: list[BuiltPageInfo], taken: set[str]) -> None:
        self._folder = folder
        self.build_id = build_id
        self.base_path = base_path
        self.locales = locales
        self.i18n = locales != [NO_LOCALE]
        self.pages = pages
        self._taken = taken  # URLs the site already answers (aliases, built pages)
        self.files: dict[str, str] = {}
        self._writer = ""

    def pages_of(self, template: str) -> Iterator[BuiltPageInfo]:
        """The built pages of ``template``, in build order."""
        return (page for page in self.pages if page.template == template)

    def write(self, url: str, body: bytes | str) -> None:
        """Serve ``body`` at ``url`` (``"/sitemap.xml"``) from this build on; also exported.

        The content type comes from the name's extension, as for static files.

        Raises:
            ConfigurationError: ``url`` is not a plain path, is below ``/.perseus/``, or is
                already answered by a page, a static alias or another plugin's file.
        """
        relative = _file_name(url)
        if url in self._taken or url in self.files:
            owner = "another file" if url in self.files else "a page or static alias of the site"
            raise ConfigurationError(f"{url!r} is already {owner}: write another URL")
        data = body.encode() if isinstance(body, str) else body
        if not isinstance(data, bytes):
            raise ConfigurationError(f"write({url!r}, ...) takes bytes or str, got {type(body).__name__}")
        target = self._folder / PLUGIN_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)  # NOTE: the whole dist is swapped in at once: no partial file is served
        self.files[url] = relative

    def finish(self) -> None:
        """Record every file written, for the server and ``perseus export``."""
        (self._folder / PLUGIN_FILES).write_bytes(orjson.dumps(self.files, option=orjson.OPT_SORT_KEYS))


def _file_name(url: object) -> str:
    if not isinstance(url, str) or not url.startswith("/") or url.endswith("/"):
        raise ConfigurationError(f"write() takes a URL path such as '/sitemap.xml', got {url!r}")
    segments = url.split("/")[1:]
    # SECURITY: the name becomes a file of the dist: no way out of it, no hidden name.
    if (any(s in ("", ".", "..") or s.startswith(".") or "\\" in s or "\0" in s for s in segments)
            or url.startswith(RESERVED) or not url.isprintable()):
        raise ConfigurationError(f"write() takes a plain URL path outside {RESERVED}, got {url!r}")
    return "/".join(segments)


def plugin_files(dist: Path) -> dict[str, Path]:
    """``{url: file}`` the plugins of the build in ``dist`` wrote (empty for none)."""
    try:
        recorded = orjson.loads((dist / PLUGIN_FILES).read_bytes())
    except FileNotFoundError:
        return {}
    return {url: dist / PLUGIN_DIR / relative for url, relative in recorded.items()}


def file_root(dist: Path) -> Path:
    """The folder every plugin file lies in (serving checks containment against it)."""
    return Path(os.path.realpath(dist / PLUGIN_DIR))


class PageLog:
    """The built pages, as ``BuiltSite.pages`` gives them: kept only when a plugin has an
    ``after_build`` hook (a site of a million pages holds no list otherwise)."""

    def __init__(self, base_path: str, wanted_states: frozenset[str]) -> None:
        self.base_path = base_path
        self.wanted_states = wanted_states
        self.pages: list[BuiltPageInfo] = []

    def add(self, template: str, path: str, locale: str, url: str, state: bytes | None) -> None:
        decoded = orjson.loads(state) if state and template in self.wanted_states else None
        self.pages.append(BuiltPageInfo(template, path, locale, self.base_path + url, decoded))


def page_log(plugins: list[object], base_path: str, wanted_states: frozenset[str]) -> PageLog | None:
    """A ``PageLog`` when some plugin reads the build's pages, else None."""
    if any(getattr(plugin, "after_build", None) is not None for plugin in plugins):
        return PageLog(base_path, wanted_states)
    return None
