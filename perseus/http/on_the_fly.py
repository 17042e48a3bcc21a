"""Compressing answers made for one request (request state), as they are sent."""

from __future__ import annotations

import gzip

import brotli  # type: ignore[import-untyped]

from .bodies import BR, COMPRESS_MIN_BODY, ENCODING_NAMES, ON_THE_FLY_BROTLI, ON_THE_FLY_GZIP, VARY_ENCODING
from .encoding import preferred_encodings
from .response import Headers, Response


def _compress(body: bytes, encoding: int) -> bytes:
    if encoding == BR:
        packed: bytes = brotli.compress(body, quality=ON_THE_FLY_BROTLI)
        return packed
    return gzip.compress(body, compresslevel=ON_THE_FLY_GZIP, mtime=0)


def compressed_answer(status: int, headers: Headers, body: bytes, accept_encoding: str | None,
                      cache: str, head: bool = False) -> Response:
    """``body`` compressed as the request's ``Accept-Encoding`` prefers, from 1 KB on.

    ``head``: a HEAD request, answered with the headers a GET gets and no body.
    """
    if len(body) < COMPRESS_MIN_BODY:
        return Response(status, headers, b"" if head else body, cache=cache)
    headers = headers + [VARY_ENCODING]
    for encoding in preferred_encodings(accept_encoding):
        # PERF: no "does it pay" check: HTML of 1 KB or more always shrinks by far more than 10%.
        body = _compress(body, encoding)
        headers.append(("content-encoding", ENCODING_NAMES[encoding]))
        break
    return Response(status, headers, b"" if head else body, cache=cache)
