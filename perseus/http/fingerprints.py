"""Fingerprinted URLs: a file's name with a hash of its content, cacheable for ever.

``ctx.static("style.css")`` is ``/.perseus/static/style.3f2a9c1e.css``: the build hashes
every file of the static directory into a manifest kept in ``dist/`` (the render
configuration's ``"static"``), pages link the hashed names, and the server answers them
``public, max-age=31536000, immutable``; a new version of the file is a new URL. A hashed
name whose hash is not the file's current content is a 404 (a page of an older build asking
after a deploy, as Next.js answers it), never another version under a name promised
immutable. The plain name keeps working with the short lifetime of ``STATIC_CACHE``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .static import StaticDirectory, StaticFile, regular_files

IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
DIGEST_LENGTH = 8  # hex digits: 32 bits tell one version of a file from the next


def digest(content: bytes) -> str:
    """The hash put into a fingerprinted name."""
    return hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]


def file_digest(path: str | Path) -> str:
    """``digest`` of a file's content, read in chunks (a large video is never held whole)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()[:DIGEST_LENGTH]


def fingerprinted(relative: str, content_digest: str) -> str:
    """``css/style.css`` -> ``css/style.<digest>.css`` (``LICENSE`` -> ``LICENSE.<digest>``)."""
    folder, slash, name = relative.rpartition("/")
    stem, dot, extension = name.rpartition(".")
    if not stem:  # no extension, or a dotfile such as ".well-known"
        return f"{relative}.{content_digest}"
    return f"{folder}{slash}{stem}.{content_digest}.{extension}"


def static_manifest(root: Path | None) -> dict[str, dict[str, Any]]:
    """The build's manifest of the static directory: each file's digest, size and mtime."""
    if root is None:
        return {}
    manifest = {}
    for relative, found in regular_files(root):
        manifest[relative] = {"digest": file_digest(found.path), "size": found.size,
                              "mtime_ns": found.mtime_ns}
    return manifest


def hashed_names(manifest: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``{"style.css": "style.3f2a9c1e.css"}`` from a manifest: what ``ctx.static`` links."""
    return {relative: fingerprinted(relative, entry["digest"]) for relative, entry in manifest.items()}


class Fingerprints:
    """Answers the hashed names of the build's manifest, from the live static directory."""

    def __init__(self, manifest: dict[str, dict[str, Any]], directory: StaticDirectory) -> None:
        self.directory = directory
        self.manifest = manifest
        self.originals = {hashed: relative for relative, hashed in hashed_names(manifest).items()}
        # (relative, size, mtime_ns) -> digest, for files changed since the build: hashed once.
        self._digests: dict[tuple[str, int, int], str] = {}

    def find(self, requested: str) -> StaticFile | None:
        """The file ``requested`` (a hashed name of the build) names while its content is
        still the one hashed; None otherwise (not a hashed name, or the file changed)."""
        relative = self.originals.get(requested)
        if relative is None:
            return None
        found = self.directory.find(relative)
        if found is None:
            return None
        entry = self.manifest[relative]
        if (found.size, found.mtime_ns) == (entry["size"], entry["mtime_ns"]):
            return found  # PERF: unchanged since the build: no read
        key = (relative, found.size, found.mtime_ns)
        current = self._digests.get(key)
        if current is None:
            current = self._digests[key] = file_digest(found.path)
        return found if current == entry["digest"] else None
