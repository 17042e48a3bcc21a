"""Resolving static files safely: the static directory and aliases."""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path

# NOTE: revalidated on every use (a 304 with the ETag), like a built page: a stylesheet
# linked by its plain name is then never older than the page of a new build that links it.
# Long-lived caching is what the hashed names of ``ctx.static`` are for (fingerprints.py).
STATIC_CACHE = "public, max-age=0, must-revalidate"
# NOTE: the type RFC 9239 names for JavaScript, whatever the host's mime.types says (Python
# alone guesses application/javascript, and a host may know no .mjs): page scripts are modules.
_JAVASCRIPT = {".js": "text/javascript", ".mjs": "text/javascript"}


class StaticFile:
    """A regular file found inside its root, with what its response needs."""

    __slots__ = ("path", "etag", "content_type", "size", "mtime_ns")

    def __init__(self, path: str, st: os.stat_result) -> None:
        self.path = path
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns
        self.etag = f'W/"{st.st_size:x}-{st.st_mtime_ns:x}"'
        content_type = (_JAVASCRIPT.get(os.path.splitext(path)[1].lower())
                        or mimetypes.guess_type(path)[0] or "application/octet-stream")
        if content_type.startswith("text/") or content_type in ("application/javascript", "image/svg+xml"):
            content_type += "; charset=utf-8"
        self.content_type = content_type


def open_regular(path: str | Path, root: Path) -> StaticFile | None:
    """The file at ``path`` if, once every symlink is resolved, it is a regular file in ``root``."""
    try:
        # SECURITY: resolve first, then check containment by path component, so
        # symlinks and '..' cannot leave the root; FIFOs and devices are refused.
        resolved = Path(os.path.realpath(path))
        if not resolved.is_relative_to(root):
            return None
        st = os.stat(resolved)
    except (OSError, ValueError):  # too long, a loop, NUL, gone
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return StaticFile(str(resolved), st)


def regular_files(root: Path) -> list[tuple[str, StaticFile]]:
    """Every file below ``root`` that serving would answer, as (relative URL path, file), sorted."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            # SECURITY: the rule serving uses: a symlink cannot bring in a file from elsewhere.
            file = open_regular(path, root)
            if file is not None:
                found.append((path.relative_to(root).as_posix(), file))
    return sorted(found, key=lambda item: item[0])


class StaticDirectory:
    """The app's static directory, served below ``/.perseus/static/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))

    def find(self, relative: str) -> StaticFile | None:
        """The file for the decoded URL remainder ``relative``, or None (a 404)."""
        segments = relative.split("/")
        for segment in segments:
            # SECURITY: the path was decoded once by the server; anything that could
            # climb or name another root is refused before touching the disk.
            if segment in ("", ".", "..") or "\\" in segment or "\x00" in segment or ":" in segment:
                return None
        return open_regular(self.root.joinpath(*segments), self.root)
