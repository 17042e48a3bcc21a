"""Response bodies: content types, Cache-Control values, ETags and compressed copies."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

import brotli  # type: ignore[import-untyped]

HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"
# Prerendered pages change only when the site is rebuilt: browsers revalidate each
# time (a cheap 304 through the ETag) so a deploy is never hidden behind a stale copy.
BUILT_PAGE_CACHE = "public, max-age=0, must-revalidate"
# SECURITY: a page rendered from one request is never stored or shared (ISR-09).
PER_REQUEST_CACHE = "private, no-store"
ERROR_CACHE = "no-store"
# Bodies get compressed copies from this size on, each kept when it is at least
# MIN_SAVING smaller: below ~1 KB a response fits a packet or two anyway, and every copy
# costs a Vary.
COMPRESS_MIN_BODY = 1024
MIN_SAVING = 0.10
# Copies made once and served many times (the build's pages, stored versions): brotli
# quality 5 and gzip level 9. Measured on 12 KB of HTML-like text on this machine: brotli 5
# takes 0.8 ms and comes within 12% of quality 11, which takes 17 ms, 20x as long: too slow
# for a build of 10,000 pages (two bodies each) or a first generation a visitor waits on.
STORED_BROTLI = 5
STORED_GZIP = 9
# Static files and the client runtime: few, compressed once, so brotli's best.
STATIC_BROTLI = 11
# Pages rendered per request are compressed on every answer: brotli 4 (0.66 ms for 12 KB,
# 5% larger than quality 5, the usual on-the-fly choice of CDNs) and gzip 6 (zlib's
# default: as small as 9 on pages, 0.3 ms).
ON_THE_FLY_BROTLI = 4
ON_THE_FLY_GZIP = 6
# Content-Encoding names and ETag suffixes of the copies, in their order in every
# (br, gzip) pair.
BR, GZIP = 0, 1
# Every answer of a body that has compressed copies says so, the identity one included, or
# a shared cache could hand a compressed copy to a client that never asked for it.
VARY_ENCODING = ("vary", "accept-encoding")
ENCODING_NAMES = ("br", "gzip")
_ETAG_SUFFIXES = ('-br"', '-gz"')


@dataclass(frozen=True)
class RenderedPage:
    """A page's two response bodies and their validators and headers."""

    html: bytes
    json: bytes
    html_etag: str
    json_etag: str
    headers: list[tuple[str, str]]


def etag(body: bytes) -> str:
    """A strong ETag: a hash of the exact bytes served (SHA-256's first 12 bytes).

    PERF: SHA-256 runs in hardware on x86-64 and ARMv8 CPUs: 15 µs for 20 KB here, where
    blake2b took 33 µs, twice per generated page (its HTML and its JSON).
    """
    return '"' + hashlib.sha256(body).digest()[:12].hex() + '"'


def _worth_it(body: bytes, packed: bytes) -> bytes | None:
    return packed if len(packed) <= len(body) * (1 - MIN_SAVING) else None


def gzip_copy(body: bytes, level: int = STORED_GZIP) -> bytes | None:
    """A gzip copy of ``body`` (reproducible), or None where it does not pay."""
    if len(body) < COMPRESS_MIN_BODY:
        return None
    # NOTE: mtime=0: the same body always gives the same bytes (and the same build output).
    return _worth_it(body, gzip.compress(body, compresslevel=level, mtime=0))


def brotli_copy(body: bytes, quality: int = STORED_BROTLI) -> bytes | None:
    """A brotli copy of ``body``, or None where it does not pay."""
    if len(body) < COMPRESS_MIN_BODY:
        return None
    packed: bytes = brotli.compress(body, quality=quality)
    return _worth_it(body, packed)


def compressed_copies(body: bytes, quality: int = STORED_BROTLI,
                      level: int = STORED_GZIP) -> tuple[bytes | None, bytes | None]:
    """``body``'s (brotli, gzip) copies, each None where it does not pay."""
    if len(body) < COMPRESS_MIN_BODY:
        return None, None
    return brotli_copy(body, quality), gzip_copy(body, level)


def encoded_etag(identity_etag: str, encoding: int) -> str:
    """The ETag of a body's ``encoding`` (BR, GZIP) copy: distinct from the identity body's,
    derived from it."""
    return identity_etag[:-1] + _ETAG_SUFFIXES[encoding]

