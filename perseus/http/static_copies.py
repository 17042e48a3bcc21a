"""Brotli and gzip copies of static files, made by the build and streamed when served.

``perseus build`` compresses each static file (the static directory and every alias) of
1 KB or more whose type compresses (text, JavaScript, JSON, SVG, XML, wasm, fonts other
than WOFF) into ``dist/`` (``Dist.static_copies`` has the layout), reading and writing in
chunks so a big file never sits in memory. A copy is served only while its file has the
size and modification time it had at build time (its ETag says both); a file changed
since is sent as it is, uncompressed, until the next build.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]

from .bodies import COMPRESS_MIN_BODY, ENCODING_NAMES, MIN_SAVING, STATIC_BROTLI, STORED_BROTLI, encoded_etag
from .static import StaticFile, open_regular, regular_files

CHUNK = 1 << 16
# Brotli's best runs at about 1 MB/s: a bigger file gets quality 5, so a large bundle
# cannot make each build take minutes.
BEST_BROTLI_UP_TO = 1 << 20
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/xml", "image/svg+xml",
                 "application/wasm", "application/manifest+json", "font/ttf", "font/otf", "image/x-icon",
                 "application/vnd.ms-fontobject")


def compressible(found: StaticFile) -> bool:
    """Whether ``found`` is worth compressing: big enough, of a type that is not compressed already."""
    return found.size >= COMPRESS_MIN_BODY and found.content_type.startswith(_COMPRESSIBLE)


def static_files(static_dir: Path | None, aliases: dict[str, Path], root: Path) -> Iterator[StaticFile]:
    """Every file the site serves as static: the static directory's and the aliases' targets."""
    if static_dir is not None:
        yield from (file for _, file in regular_files(static_dir))
    for target in aliases.values():
        found = open_regular(target, root)
        if found is not None:
            yield found


def _brotli_file(source: str, target: Path, size: int) -> None:
    quality = STATIC_BROTLI if size <= BEST_BROTLI_UP_TO else STORED_BROTLI
    compressor = brotli.Compressor(quality=quality)
    with open(source, "rb") as src, open(target, "wb") as out:
        while chunk := src.read(CHUNK):
            out.write(compressor.process(chunk))
        out.write(compressor.finish())


def _gzip_file(source: str, target: Path, size: int) -> None:
    # NOTE: mtime=0 and no name: the same file always gives the same bytes.
    with open(source, "rb") as src, open(target, "wb") as out, \
            gzip.GzipFile(filename="", fileobj=out, mode="wb", compresslevel=9, mtime=0) as packed:
        shutil.copyfileobj(src, packed, CHUNK)


def write_static_copies(files: Iterator[StaticFile], folder: Path, root: Path) -> dict[str, Any]:
    """Compress ``files`` into ``folder``; the index ``StaticCopies`` reads, by path below ``root``."""
    index: dict[str, Any] = {}
    for number, found in enumerate(files):
        if not compressible(found):
            continue
        try:
            relative = str(Path(found.path).relative_to(root))
        except ValueError:
            continue  # outside the project (a static_dir elsewhere): served as it is
        entry: dict[str, Any] = {"etag": found.etag}
        for encoding, write in enumerate((_brotli_file, _gzip_file)):
            name = f"{number}.{ENCODING_NAMES[encoding]}"
            write(found.path, folder / name, found.size)
            packed = (folder / name).stat().st_size
            if packed <= found.size * (1 - MIN_SAVING):
                entry[ENCODING_NAMES[encoding]] = [name, packed]
            else:
                (folder / name).unlink()
        if len(entry) > 1:
            index[relative] = entry
    return index


class Copy:
    """A compressed copy of a static file: where it lies, its size, its ETag, its coding."""

    __slots__ = ("path", "size", "etag", "encoding")

    def __init__(self, path: str, size: int, etag: str, encoding: str) -> None:
        self.path = path
        self.size = size
        self.etag = etag
        self.encoding = encoding


class StaticCopies:
    """The build's copies of static files, by the real path of their file."""

    def __init__(self, index: dict[str, Any], folder: Path, root: Path) -> None:
        self._copies: dict[str, tuple[str, tuple[Copy | None, Copy | None]]] = {}
        for relative, entry in index.items():
            tag = entry["etag"]
            pair = tuple(
                Copy(str(folder / entry[name][0]), entry[name][1], encoded_etag(tag, encoding), name)
                if name in entry else None
                for encoding, name in enumerate(ENCODING_NAMES))
            self._copies[os.path.realpath(root / relative)] = (tag, (pair[0], pair[1]))

    def of(self, found: StaticFile) -> tuple[Copy | None, Copy | None] | None:
        """``found``'s (brotli, gzip) copies, or None: none made, or the file changed since."""
        known = self._copies.get(found.path)
        if known is None or known[0] != found.etag:
            return None
        return known[1]
