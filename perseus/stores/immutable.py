"""The immutable store: ``dist/`` as written by ``perseus build``. All of its layout is here.

    dist/manifest.json      format, build id, perseus version, page count
    dist/render_conf.json   every page path -> template, per locale; template strategies
    dist/pages.bin          page bodies (HTML and JSON), one record after another
    dist/pages.json         the index: per page, where its bodies lie, ETags, headers;
                            error pages and translations per locale likewise
    dist/extra/<n>.json     helper state per template (never served)
    dist/global_state.json  build-time global state
    dist/mutable/           the mutable store (LMDB), seeded by the build; PERSEUS_MUTABLE_DIR
                            moves it elsewhere (e.g. when dist/ is read-only)

A build writes a sibling temporary directory and swaps it in at the end, so a failed
build leaves the previous ``dist/`` as it was.
"""

from __future__ import annotations

import mmap
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from ..errors import DistError
from ..turbine.render import RenderedPage, etag

FORMAT = 1
MUTABLE_DIR = "mutable"


def mutable_location(dist: Path, building: Path | None = None) -> Path:
    """Where the mutable store of ``dist`` lives: ``PERSEUS_MUTABLE_DIR`` or ``dist/mutable``.

    ``building`` is the temporary directory of a build in progress, which becomes ``dist``.
    """
    configured = os.environ.get("PERSEUS_MUTABLE_DIR", "").strip()
    if configured:
        return Path(configured).resolve()
    return (building if building is not None else dist) / MUTABLE_DIR


@dataclass(frozen=True)
class StoredPage:
    """One prerendered page as served: body spans in ``pages.bin`` plus headers."""

    path: str
    locale: str
    template: str
    html: tuple[int, int]
    json: tuple[int, int]
    html_etag: str
    json_etag: str
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class StoredTranslations:
    """A locale's translations as served at ``/.perseus/translations/<locale>``."""

    body: tuple[int, int]
    etag: str
    content_type: str


def new_build_id() -> str:
    """A fresh build id: sortable by time, unique by its random tail."""
    return time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)


def read_build_id(dist: Path) -> str | None:
    """The build id ``dist`` holds now; None while it is missing, damaged or being swapped."""
    try:
        value = orjson.loads((dist / "manifest.json").read_bytes()).get("build_id")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class DistWriter:
    """Writes a new ``dist/`` beside the old one; ``commit`` swaps it in."""

    def __init__(self, dist: Path, build_id: str | None = None) -> None:
        self.dist = dist
        self.build_id = build_id or new_build_id()
        dist.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = dist.parent / f".{dist.name}.building-{self.build_id}"
        self.tmp.mkdir()
        (self.tmp / "extra").mkdir()
        self._bodies = open(self.tmp / "pages.bin", "wb")
        self._offset = 0
        self._pages: list[dict[str, Any]] = []
        self._deferred: list[dict[str, Any]] = []
        self._errors: dict[str, dict[str, Any]] = {}
        self._translations: dict[str, dict[str, Any]] = {}

    def _append(self, body: bytes) -> list[int]:
        span = [self._offset, len(body)]
        self._bodies.write(body)
        self._offset += len(body)
        return span

    def _record(self, page: RenderedPage) -> dict[str, Any]:
        return {
            "html": self._append(page.html), "json": self._append(page.json),
            "html_etag": page.html_etag, "json_etag": page.json_etag, "headers": page.headers,
        }

    def add_page(self, path: str, locale: str, template: str, page: RenderedPage) -> None:
        self._pages.append({"path": path, "locale": locale, "template": template, **self._record(page)})

    def add_deferred_page(self, path: str, locale: str, template: str, state: bytes) -> None:
        """A page rendered per request (request state): only its build state is kept."""
        self._deferred.append({"path": path, "locale": locale, "template": template,
                               "state": orjson.loads(state)})

    def add_error_page(self, status: int, locale: str, page: RenderedPage) -> None:
        self._errors.setdefault(locale, {})[str(status)] = self._record(page)

    def add_translations(self, locale: str, content_type: str, source: bytes) -> None:
        self._translations[locale] = {
            "body": self._append(source), "etag": etag(source), "content_type": content_type,
        }

    def write_json(self, name: str, value: Any) -> None:
        (self.tmp / name).write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))

    def write_extra(self, template: str, extra: bytes) -> None:
        (self.tmp / "extra" / f"{quote(template, safe='')}.json").write_bytes(extra)

    def commit(self, manifest: dict[str, Any]) -> None:
        self._bodies.close()
        self.write_json("pages.json", {"pages": self._pages, "deferred": self._deferred,
                                       "errors": self._errors, "translations": self._translations})
        self.write_json("manifest.json", {"format": FORMAT, "build_id": self.build_id, **manifest})
        old = self.dist.parent / f".{self.dist.name}.old-{self.build_id}"
        if self.dist.exists():
            os.rename(self.dist, old)
        os.rename(self.tmp, self.dist)
        shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        self._bodies.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Dist:
    """A built ``dist/`` opened for serving: the index in memory, bodies memory-mapped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.manifest = orjson.loads((path / "manifest.json").read_bytes())
        except FileNotFoundError:
            raise DistError(f"no build in {path}: run `perseus build` first") from None
        if self.manifest.get("format") != FORMAT:
            raise DistError(f"{path} was built by another version of perseus: run `perseus build`")
        self.build_id: str = self.manifest["build_id"]
        index = orjson.loads((path / "pages.json").read_bytes())
        self.pages = [_stored(entry) for entry in index["pages"]]
        # Pages rendered per request: (path, locale, template, build state).
        self.deferred: list[tuple[str, str, str, Any]] = [
            (entry["path"], entry["locale"], entry["template"], entry["state"])
            for entry in index.get("deferred", [])
        ]
        self.built_at: float = float(self.manifest.get("built_at", 0.0))
        self.errors = {
            locale: {int(status): _stored({"path": "", "locale": locale, "template": "", **entry})
                     for status, entry in by_status.items()}
            for locale, by_status in index["errors"].items()
        }
        self.translations = {
            locale: StoredTranslations(tuple(entry["body"]), entry["etag"], entry["content_type"])
            for locale, entry in index.get("translations", {}).items()
        }
        self.render_conf = orjson.loads((path / "render_conf.json").read_bytes())
        global_path = path / "global_state.json"
        self.global_state = orjson.loads(global_path.read_bytes()) if global_path.exists() else None
        with open(path / "pages.bin", "rb") as bodies:
            size = os.fstat(bodies.fileno()).st_size
            # PERF: one shared, read-only map: workers share the page cache, and RSS
            # grows only with the pages actually served.
            self._bodies = mmap.mmap(bodies.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def extra(self, template: str) -> Any:
        """The helper state ``build_paths`` returned for ``template`` (None without one)."""
        path = self.path / "extra" / f"{quote(template, safe='')}.json"
        return orjson.loads(path.read_bytes()) if path.exists() else None

    def body(self, span: tuple[int, int]) -> bytes:
        start, length = span
        return self._bodies[start : start + length]


def _stored(entry: dict[str, Any]) -> StoredPage:
    return StoredPage(
        entry["path"], entry["locale"], entry["template"], tuple(entry["html"]),
        tuple(entry["json"]), entry["html_etag"], entry["json_etag"],
        [(name, value) for name, value in entry["headers"]],
    )
