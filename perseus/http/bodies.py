"""Response bodies: content types, Cache-Control values, ETags and gzip copies."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"
# Prerendered pages change only when the site is rebuilt: browsers revalidate each
# time (a cheap 304 through the ETag) so a deploy is never hidden behind a stale copy.
BUILT_PAGE_CACHE = "public, max-age=0, must-revalidate"
# SECURITY: a page rendered from one request is never stored or shared (ISR-09).
PER_REQUEST_CACHE = "private, no-store"
ERROR_CACHE = "no-store"
# Bodies get a gzip copy from this size on, when it is at least GZIP_MIN_SAVING smaller:
# below ~1 KB a response fits a packet or two anyway, and every copy costs a Vary.
GZIP_MIN_BODY = 1024
GZIP_MIN_SAVING = 0.10


@dataclass(frozen=True)
class RenderedPage:
    """A page's two response bodies and their validators and headers."""

    html: bytes
    json: bytes
    html_etag: str
    json_etag: str
    headers: list[tuple[str, str]]


def etag(body: bytes) -> str:
    """A strong ETag: a hash of the exact bytes served."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def gzip_copy(body: bytes) -> bytes | None:
    """A gzip copy of ``body`` (level 9, reproducible), or None where it does not pay."""
    if len(body) < GZIP_MIN_BODY:
        return None
    # NOTE: mtime=0: the same body always gives the same bytes (and the same build output).
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return packed if len(packed) <= len(body) * (1 - GZIP_MIN_SAVING) else None


def gzip_etag(identity_etag: str) -> str:
    """The ETag of a body's gzip copy: distinct from the identity body's, derived from it."""
    return identity_etag[:-1] + '-gz"'
