"""The immutable store: ``dist/`` as written by ``perseus build``. All of its layout is here.

    dist/manifest.json      format, build id, perseus version, page count
    dist/render_conf.json   every page path -> template, per locale; template strategies
    dist/pages.bin          page bodies (HTML, JSON and their brotli and gzip copies), one
                            after another
    dist/pages.idx          the page index, packed (see ``PageIndex``): per page, where its
                            bodies lie, its ETag digests, locale, template and header set
    dist/pages.paths        every page's path, UTF-8, one per line, in index order
    dist/index.json         what is not per page: locales, templates, distinct header sets,
                            error pages and translations per locale, pages rendered per request,
                            pages built as redirects (status and Location)
    dist/extra/<n>.json     helper state per template (never served)
    dist/global_state.json  build-time global state
    dist/tags.json          the tags of the built pages: tag -> [[locale, path], ...] (only
                            when some page has tags; read by `perseus revalidate --tag`)
    dist/static_copies.json brotli and gzip copies of static files, by path below the project:
    dist/static-copies/     the copies (``perseus.http.static_copies``)
    dist/mutable/           the mutable store (LMDB), seeded by the build; PERSEUS_MUTABLE_DIR
                            moves it elsewhere (e.g. when dist/ is read-only)

A build writes a sibling temporary directory and swaps it in at the end, so a failed
build leaves the previous ``dist/`` as it was. Beside ``dist/``, ``.dist.lock`` is held
(flock) by the build writing; leftovers of killed builds are removed by the next one.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import secrets
import shutil
import struct
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import orjson

from ..errors import DistError
from ..http.bodies import RenderedPage, compressed_copies, etag

# NOTE: bump whenever the layout changes: a server refuses a dist/ of another format
# with "rebuild", rather than misreading it.
FORMAT = 4  # 4: redirect pages in index.json, brotli copies of pages, static-file copies
MUTABLE_DIR = "mutable"
# The files of dist/, spelled here only.
MANIFEST = "manifest.json"
RENDER_CONF = "render_conf.json"
INDEX = "index.json"
GLOBAL_STATE = "global_state.json"
BUILT_TAGS = "tags.json"
STATIC_COPIES_INDEX = "static_copies.json"
STATIC_COPIES = "static-copies"
PARTS = "parts"  # build workers' page bodies, appended to pages.bin as they come
Span = tuple[int, int]
Headers = list[tuple[str, str]]
# PERF: the page index is packed so that 10,000 pages load as a few flat buffers, not as
# 10,000 dicts (pages.json was 5 MB and peaked at 75 MB while parsed): one record per page
# = spans (offset, length) of its HTML, JSON, their gzip copies and their brotli copies
# (length 0: none), its header set, then the ETag digests of its HTML and JSON.
_RECORD = struct.Struct("<QIQIQIQIQIQII12s12s")
_COUNT = struct.Struct("<I")
_ETAG_DIGEST = 12


def mutable_location(dist: Path, configured: Path | None, building: Path | None = None) -> Path:
    """Where the mutable store of ``dist`` lives: ``configured`` (``Settings.mutable_dir``,
    from ``PERSEUS_MUTABLE_DIR``) or ``dist/mutable``.

    ``building`` is the temporary directory of a build in progress, which becomes ``dist``.
    """
    if configured is not None:
        return configured
    return (building if building is not None else dist) / MUTABLE_DIR


def read_built_tags(dist: Path) -> dict[str, list[tuple[str, str]]]:
    """``(locale, path)`` of the built pages of each tag (``BUILT_TAGS``)."""
    try:
        raw: dict[str, list[list[str]]] = orjson.loads((dist / BUILT_TAGS).read_bytes())
    except FileNotFoundError:
        return {}
    return {tag: [(locale, path) for locale, path in pages] for tag, pages in raw.items()}


@dataclass(frozen=True, slots=True)
class StoredPage:
    """One prerendered page as served: body spans in ``pages.bin`` plus headers.

    ``html_gz`` and ``json_gz`` are the spans of the gzip copies, ``html_br`` and
    ``json_br`` of the brotli copies, None where compressing did not pay. ``headers`` is
    shared between pages: never change it.
    """

    path: str
    locale: str
    template: str
    html: Span
    json: Span
    html_etag: str
    json_etag: str
    headers: Headers
    html_gz: Span | None = None
    json_gz: Span | None = None
    html_br: Span | None = None
    json_br: Span | None = None


@dataclass(frozen=True)
class StoredTranslations:
    """A locale's translations as served at ``/.perseus/translations/<locale>``."""

    body: Span
    etag: str
    content_type: str


def new_build_id() -> str:
    """A fresh build id: sortable by time, unique by its random tail."""
    return time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)


def read_build_id(dist: Path) -> str | None:
    """The build id ``dist`` holds now; None while it is missing, damaged or being swapped."""
    try:
        value = orjson.loads((dist / MANIFEST).read_bytes()).get("build_id")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def read_manifest(dist: Path) -> dict[str, Any]:
    """The manifest of the build in ``dist``, checked to be one this perseus can serve.

    Raises:
        DistError: no build, a damaged one, or one written in another format.
    """
    try:
        manifest = orjson.loads((dist / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise DistError(f"no build in {dist}: run `perseus build` first") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DistError(f"the build in {dist} is damaged ({exc}): run `perseus build` again") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise DistError(
            f"{dist} was built by another version of perseus (dist format {found!r}, this one"
            f" reads format {FORMAT}): run `perseus build` to rebuild it"
        )
    assert isinstance(manifest, dict)
    return manifest


# A page's (HTML brotli, HTML gzip, JSON brotli, JSON gzip) copies, None where one does not pay.
PageCopies = tuple[bytes | None, bytes | None, bytes | None, bytes | None]


def page_copies(page: RenderedPage) -> PageCopies:
    """The compressed copies ``DistWriter.add_page`` stores beside ``page``."""
    return compressed_copies(page.html) + compressed_copies(page.json)


def _digest(tag: str) -> bytes:
    digest = bytes.fromhex(tag.strip('"'))
    assert len(digest) == _ETAG_DIGEST, "etag() changed its digest size: bump FORMAT"
    return digest


@dataclass(frozen=True, slots=True)
class WrittenPage:
    """A prerendered page whose bodies are written: their spans (HTML, JSON, their gzip and
    their brotli copies; length 0 for none) in the file written, its headers and the ETag
    digests of its HTML and JSON. What a build worker sends back instead of the bodies."""

    spans: tuple[Span, ...]
    headers: tuple[tuple[str, str], ...]
    html_etag: bytes
    json_etag: bytes

    @property
    def html_bytes(self) -> int:
        return self.spans[0][1]


class BodyFile:
    """Page bodies written one after another (``pages.bin``, or a build worker's part of it)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")
        self._offset = 0

    def append(self, body: bytes | None) -> list[int]:
        """Write ``body``: its span ``[offset, length]``, ``[0, 0]`` for none."""
        if not body:
            return [0, 0]
        span = [self._offset, len(body)]
        self._file.write(body)
        self._offset += len(body)
        return span

    def add_page(self, page: RenderedPage, copies: PageCopies | None = None) -> WrittenPage:
        """Write ``page``'s bodies and its copies (``page_copies``, made here when not given)."""
        html_br, html_gz, json_br, json_gz = copies if copies is not None else page_copies(page)
        spans = tuple((start, length) for start, length in
                      map(self.append, (page.html, page.json, html_gz, json_gz, html_br, json_br)))
        return WrittenPage(spans, tuple((name, value) for name, value in page.headers),
                           _digest(page.html_etag), _digest(page.json_etag))

    def append_file(self, path: Path) -> int:
        """Append the whole of the file at ``path``; returns the offset it starts at."""
        base = self._offset
        self._file.flush()
        with open(path, "rb") as part:
            size = os.fstat(part.fileno()).st_size
            # PERF: copied by the kernel, never through this process's memory.
            copied = 0
            try:
                while copied < size:
                    done = os.copy_file_range(part.fileno(), self._file.fileno(), size - copied)
                    if done == 0:
                        break
                    copied += done
            except OSError:  # a filesystem without it: copy what is left through a buffer
                pass
            if copied < size:
                part.seek(copied)
                shutil.copyfileobj(part, self._file)
        # NOTE: the buffered file learns where the copy left the descriptor's offset.
        self._file.seek(0, os.SEEK_END)
        self._offset += size
        return base

    def close(self) -> None:
        self._file.close()


class DistWriter:
    """Writes a new ``dist/`` beside the old one; ``commit`` swaps it in."""

    def __init__(self, dist: Path, build_id: str | None = None) -> None:
        """Call while holding ``build_lock(dist)``."""
        self.dist = dist
        self.build_id = build_id or new_build_id()
        dist.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = dist.parent / f".{dist.name}.building-{self.build_id}"
        self.tmp.mkdir()
        (self.tmp / "extra").mkdir()
        self._bodies = BodyFile(self.tmp / "pages.bin")
        self._records = bytearray()
        self._paths: list[str] = []
        self._page_locales = array("H")
        self._page_templates = array("H")
        self._locales: dict[str, int] = {}
        self._templates: dict[str, int] = {}
        # NOTE: most pages share identical headers: each distinct list is stored once.
        self._header_sets: dict[tuple[tuple[str, str], ...], int] = {}
        self._deferred: list[dict[str, Any]] = []
        self._redirects: list[dict[str, Any]] = []
        self._errors: dict[str, dict[str, Any]] = {}
        self._translations: dict[str, dict[str, Any]] = {}

    def _append(self, body: bytes | None) -> list[int]:
        return self._bodies.append(body)

    def _id(self, table: dict[Any, int], key: Any) -> int:
        return table.setdefault(key, len(table))

    def add_page(self, path: str, locale: str, template: str, page: RenderedPage,
                 copies: PageCopies | None = None) -> int | None:
        """A prerendered page, with brotli and gzip copies of its bodies where they pay
        (``copies``, from ``page_copies``, when a build worker made them already).

        Returns the size of its HTML's brotli copy (None where compressing did not pay),
        for the build's route table. Its bodies go to disk at once: none is kept here."""
        return self.add_written_page(path, locale, template, self._bodies.add_page(page, copies))

    def parts_dir(self) -> Path:
        """Where build workers write their part files (made here, empty)."""
        folder = self.tmp / PARTS
        folder.mkdir(exist_ok=True)
        return folder

    def add_part(self, part: Path) -> int:
        """Append the bodies a build worker wrote to ``part`` (then removed): where they start
        in ``pages.bin``, to add to the spans of its ``WrittenPage`` entries."""
        base = self._bodies.append_file(part)
        part.unlink()
        return base

    def add_written_page(self, path: str, locale: str, template: str, page: WrittenPage,
                         base: int = 0) -> int | None:
        """A prerendered page whose bodies are in ``pages.bin`` already, ``base`` bytes after
        where ``page``'s spans say (a part's start). Returns what ``add_page`` returns."""
        spans = [(start + base if length else 0, length) for start, length in page.spans]
        headers = self._id(self._header_sets, page.headers)
        self._records += _RECORD.pack(*(n for span in spans for n in span), headers, page.html_etag,
                                      page.json_etag)
        self._paths.append(path)
        self._page_locales.append(self._id(self._locales, locale))
        self._page_templates.append(self._id(self._templates, template))
        return page.spans[4][1] or None

    def add_deferred_page(self, path: str, locale: str, template: str, state: bytes) -> None:
        """A page rendered per request (request state): only its build state is kept."""
        self._deferred.append({"path": path, "locale": locale, "template": template,
                               "state": orjson.loads(state)})

    def add_redirect(self, path: str, locale: str, template: str, status: int, location: str) -> None:
        """A page whose build state raised ``Redirect``: answered with ``status`` and ``location``."""
        self._redirects.append({"path": path, "locale": locale, "template": template, "status": status,
                                "location": location})

    def add_error_page(self, status: int, locale: str, page: RenderedPage) -> None:
        """An error page, with brotli and gzip copies of its HTML where they pay (an app's own
        error view can be a whole designed page)."""
        html_br, html_gz = compressed_copies(page.html)
        self._errors.setdefault(locale, {})[str(status)] = {
            "html": self._append(page.html), "json": self._append(page.json),
            "html_etag": page.html_etag, "json_etag": page.json_etag, "headers": page.headers,
            "html_br": self._append(html_br), "html_gz": self._append(html_gz),
        }

    def add_translations(self, locale: str, content_type: str, source: bytes) -> None:
        self._translations[locale] = {
            "body": self._append(source), "etag": etag(source), "content_type": content_type,
        }

    def write_json(self, name: str, value: Any) -> None:
        (self.tmp / name).write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))

    def static_copies_dir(self) -> Path:
        """Where the build puts its copies of static files (made here, empty)."""
        folder = self.tmp / STATIC_COPIES
        folder.mkdir()
        return folder

    def write_extra(self, template: str, extra: bytes) -> None:
        (self.tmp / "extra" / f"{quote(template, safe='')}.json").write_bytes(extra)

    def commit(self, manifest: dict[str, Any]) -> None:
        self._bodies.close()
        shutil.rmtree(self.tmp / PARTS, ignore_errors=True)  # empty: every part was appended
        count = len(self._paths)
        (self.tmp / "pages.idx").write_bytes(b"".join((
            _COUNT.pack(count), self._page_locales.tobytes(), self._page_templates.tobytes(),
            self._records,
        )))
        (self.tmp / "pages.paths").write_bytes("\n".join(self._paths).encode())
        self.write_json(INDEX, {
            "locales": list(self._locales), "templates": list(self._templates),
            "header_sets": [list(headers) for headers in self._header_sets],
            "deferred": self._deferred, "errors": self._errors, "translations": self._translations,
            "redirects": self._redirects,
        })
        self.write_json(MANIFEST, {"format": FORMAT, "build_id": self.build_id, **manifest})
        _swap_in(self.tmp, self.dist, self.dist.parent / f".{self.dist.name}.old-{self.build_id}")

    def abort(self) -> None:
        self._bodies.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def build_lock(dist: Path, on_wait: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold ``.dist.lock`` beside ``dist`` for a whole build, after putting back a ``dist/``
    a killed swap lost and removing what killed builds left. ``on_wait`` is told when
    another build holds the lock; this one then waits for it."""
    lock = _take_build_lock(dist, on_wait)
    try:
        recover_and_clean(dist)
        yield
    finally:
        lock.close()


def _take_build_lock(dist: Path, on_wait: Callable[[str], None]) -> IO[bytes]:
    # NOTE: a second build waits rather than fails: two deploy steps that both build end
    # with the later build served, and neither sees the other's half-written directories.
    # The kernel drops the lock when its holder dies, so a killed build never blocks.
    dist.parent.mkdir(parents=True, exist_ok=True)
    lock = open(dist.parent / f".{dist.name}.lock", "ab")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"waiting for another build of {dist} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
    except BaseException:
        lock.close()
        raise
    return lock


def recover_and_clean(dist: Path) -> None:
    """Put back a ``dist/`` lost between the two renames of a killed swap, then remove the
    directories killed builds left. Call only while holding the build lock."""
    leftovers = sorted(dist.parent.glob(f".{dist.name}.building-*"))
    olds = sorted(dist.parent.glob(f".{dist.name}.old-*"))
    complete = [old for old in olds if (old / MANIFEST).is_file()]
    if not dist.exists() and complete:
        os.rename(complete[-1], dist)  # build ids sort by time: the newest previous build
        olds.remove(complete[-1])
    for stale in leftovers + olds:
        shutil.rmtree(stale, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where that is unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _swap_in(new: Path, dist: Path, old: Path) -> None:
    # NOTE: an atomic exchange leaves a complete dist/ at every instant, even if the build
    # is killed here; the fallback's gap between two renames is closed by the next build's
    # recover_and_clean. A kill before the old copy is removed leaves it for that too.
    if not dist.exists():
        os.rename(new, dist)
        return
    if _exchange(new, dist):
        shutil.rmtree(new, ignore_errors=True)  # now holds the previous build
        return
    os.rename(dist, old)
    os.rename(new, dist)
    shutil.rmtree(old, ignore_errors=True)


class PageIndex:
    """The prerendered pages of a build, read from their packed index.

    ``paths``, ``locale_ids`` and ``template_ids`` are per page (ids into ``locales`` and
    ``templates``); ``page(i)`` unpacks one page's record when it is first needed.
    """

    def __init__(self, raw: bytes, paths: bytes, index: dict[str, Any]) -> None:
        (count,) = _COUNT.unpack_from(raw)
        start = _COUNT.size
        self.locale_ids = array("H", raw[start : start + 2 * count])
        self.template_ids = array("H", raw[start + 2 * count : start + 4 * count])
        self._records = raw[start + 4 * count :]
        if len(self._records) != count * _RECORD.size:
            raise DistError("the page index is damaged: run `perseus build` again")
        self.paths = paths.decode().split("\n") if count else []
        self.locales: list[str] = index["locales"]
        self.templates: list[str] = index["templates"]
        self.header_sets: list[Headers] = [
            [(name, value) for name, value in headers] for headers in index["header_sets"]
        ]

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[StoredPage]:
        """Every page, unpacked one at a time (for tools such as export, not for serving)."""
        return map(self.page, range(len(self.paths)))

    def page(self, i: int) -> StoredPage:
        (html, html_len, json, json_len, html_gz, html_gz_len, json_gz, json_gz_len, html_br, html_br_len,
         json_br, json_br_len, headers, html_tag, json_tag) = _RECORD.unpack_from(self._records,
                                                                                   i * _RECORD.size)
        return StoredPage(
            self.paths[i], self.locales[self.locale_ids[i]], self.templates[self.template_ids[i]],
            (html, html_len), (json, json_len), f'"{html_tag.hex()}"', f'"{json_tag.hex()}"',
            self.header_sets[headers], (html_gz, html_gz_len) if html_gz_len else None,
            (json_gz, json_gz_len) if json_gz_len else None,
            (html_br, html_br_len) if html_br_len else None, (json_br, json_br_len) if json_br_len else None,
        )


class Dist:
    """A built ``dist/`` opened for serving: the index in memory, bodies memory-mapped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest = read_manifest(path)
        self.build_id: str = self.manifest["build_id"]
        index = orjson.loads((path / INDEX).read_bytes())
        self.pages = PageIndex((path / "pages.idx").read_bytes(), (path / "pages.paths").read_bytes(),
                               index)
        # Pages rendered per request: (path, locale, template, build state).
        self.deferred: list[tuple[str, str, str, Any]] = [
            (entry["path"], entry["locale"], entry["template"], entry["state"])
            for entry in index["deferred"]
        ]
        # Pages built as redirects: (path, locale, template, status, location).
        self.redirects: list[tuple[str, str, str, int, str]] = [
            (entry["path"], entry["locale"], entry["template"], entry["status"], entry["location"])
            for entry in index["redirects"]
        ]
        self.built_at: float = float(self.manifest.get("built_at", 0.0))
        self.errors = {
            locale: {int(status): _error_page(locale, entry) for status, entry in by_status.items()}
            for locale, by_status in index["errors"].items()
        }
        self.translations = {
            locale: StoredTranslations(tuple(entry["body"]), entry["etag"], entry["content_type"])
            for locale, entry in index["translations"].items()
        }
        self.render_conf = orjson.loads((path / RENDER_CONF).read_bytes())
        # PERF: its list of every page (for tools) is what the index holds, packed.
        self.render_conf.pop("pages", None)
        global_path = path / GLOBAL_STATE
        self.global_state = orjson.loads(global_path.read_bytes()) if global_path.exists() else None
        copies = path / STATIC_COPIES_INDEX
        self.static_copies: dict[str, Any] = orjson.loads(copies.read_bytes()) if copies.exists() else {}
        self.static_copies_dir = path / STATIC_COPIES
        with open(path / "pages.bin", "rb") as bodies:
            size = os.fstat(bodies.fileno()).st_size
            # PERF: one shared, read-only map: workers share the page cache, and RSS
            # grows only with the pages actually served.
            self._bodies = mmap.mmap(bodies.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def extra(self, template: str) -> Any:
        """The helper state ``build_paths`` returned for ``template`` (None without one)."""
        path = self.path / "extra" / f"{quote(template, safe='')}.json"
        return orjson.loads(path.read_bytes()) if path.exists() else None

    def body(self, span: Span) -> bytes:
        start, length = span
        return self._bodies[start : start + length]


def _error_page(locale: str, entry: dict[str, Any]) -> StoredPage:
    html_br, html_gz = (tuple(entry[name]) if entry[name][1] else None for name in ("html_br", "html_gz"))
    return StoredPage(
        "", locale, "", tuple(entry["html"]), tuple(entry["json"]), entry["html_etag"],
        entry["json_etag"], [(name, value) for name, value in entry["headers"]], html_gz=html_gz,
        html_br=html_br,
    )
