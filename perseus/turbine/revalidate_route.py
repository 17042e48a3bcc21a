"""``POST /.perseus/revalidate``: on-demand revalidation over HTTP, for a CMS webhook.

    curl -X POST https://site/.perseus/revalidate -H "authorization: Bearer $TOKEN" \
         -H "content-type: application/json" -d '{"tags": ["post:42"], "paths": ["/"]}'

The route exists only with ``PERSEUS_REVALIDATE_TOKEN`` set (else 404, for every method).
It marks pages as ``perseus revalidate`` does (``perseus.revalidation.revalidate``, in a
thread: marks are short store writes that may wait on a lease) and answers the same
report as JSON: ``{"marked": [...], "skipped": [{"target", "reason"}]}``, 200 even when
some pages could not be marked.

Checked in this order, so that nothing about the body is read before the caller is known:
method (405), token (401, or 429 once wrong ones come too fast), content type (415), size
(413), JSON shape (400). Errors are JSON ``{"error": {"status", "message"}}``; no body
ever holds the token, a traceback or a store's URL.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import AsyncIterable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from ..errors import PerseusError, StaleServerError, StoreError, TagError
from ..http.bodies import ERROR_CACHE, JSON_TYPE
from ..http.response import Response
from ..revalidation import RevalidationReport, revalidate
from ..settings import Settings
from ..tags import check_tag
from .request_state import MaybeResponse

log = logging.getLogger("perseus.revalidate")
# A webhook names a few pages or tags; a site-wide change is one tag (or `--all` on the CLI).
MAX_BODY_BYTES = 64 * 1024
# Wrong tokens each worker answers 401 before it answers 429: a burst, then one a second.
FAILURE_BURST = 10
FAILURES_PER_SECOND = 1.0
FIELDS = ("paths", "tags")
HEADERS = [("content-type", JSON_TYPE), ("cache-control", ERROR_CACHE)]
CHALLENGE = ("www-authenticate", 'Bearer realm="perseus"')
Mark = Callable[[list[str], list[str]], RevalidationReport]
BodyChunks = AsyncIterable[bytes]


class FailureBudget:
    """A token bucket of failed attempts: ``burst`` at once, refilled at ``per_second``."""

    def __init__(self, burst: int, per_second: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self.left = float(burst)
        self.at: float | None = None

    def spend(self, now: float) -> float:
        """Spend one failure: 0 if the budget allowed it, else the seconds until it will."""
        if self.at is not None:
            self.left = min(float(self.burst), self.left + (now - self.at) * self.per_second)
        self.at = now
        if self.left >= 1:
            self.left -= 1
            return 0.0
        return (1 - self.left) / self.per_second


class RevalidateRoute:
    """Answers ``/.perseus/revalidate`` for a site whose token is ``token``.

    NOTE: wrong tokens are limited per worker, whoever sends them; a right token is never
    refused for them (a webhook must not be locked out by a scanner): its length, not the
    limit, is what makes guessing hopeless (``settings.MIN_TOKEN_LENGTH``). The limit
    bounds what a scanner costs, and the log lines it makes.
    """

    def __init__(self, token: str, mark: Mark) -> None:
        self._token = token.encode()
        self.mark = mark
        self.failures = FailureBudget(FAILURE_BURST, FAILURES_PER_SECOND)
        self._throttling = False

    def answer(self, method: str, headers: Mapping[str, str], body: BodyChunks | None) -> MaybeResponse:
        if method != "POST":
            return _error(405, "use POST", method, [("allow", "POST")])
        if not self._authorized(headers.get("authorization")):
            return self._refused(headers.get("authorization") is None)
        media_type = (headers.get("content-type") or "").partition(";")[0].strip().lower()
        if media_type != JSON_TYPE and not media_type.endswith("+json"):
            return _error(415, "send the body as JSON, with content-type: application/json", method)
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes", method)
        return self._read_then_mark(body)

    def _authorized(self, header: str | None) -> bool:
        scheme, _, given = (header or "").strip().partition(" ")
        # SECURITY: compared in constant time, so the answer's timing tells nothing of the token.
        return hmac.compare_digest(given.strip().encode("utf-8", "replace"), self._token) and (
            scheme.lower() == "bearer")

    def _refused(self, missing: bool) -> Response:
        wait = self.failures.spend(time.monotonic())
        if wait:
            if not self._throttling:
                log.warning("refusing revalidation requests with a wrong token for a while (429): more"
                            " than %d came in too fast", FAILURE_BURST)
                self._throttling = True
            return _error(429, "too many requests with a wrong token; try again later", "POST",
                          [("retry-after", str(max(1, math.ceil(wait))))])
        self._throttling = False
        # SECURITY: never the header's value: it may be a token one character off the right one.
        log.warning("refused a revalidation request: %s", "no token" if missing else "wrong token")
        return _error(401, "send Authorization: Bearer <PERSEUS_REVALIDATE_TOKEN>", "POST", [CHALLENGE])

    async def _read_then_mark(self, body: BodyChunks | None) -> Response:
        raw = b""
        if body is not None:
            chunks, size = [], 0
            async for chunk in body:
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes", "POST")
                chunks.append(chunk)
            raw = b"".join(chunks)
        try:
            paths, tags = _parse(raw)
        except ValueError as exc:
            return _error(400, str(exc), "POST")
        try:
            report = await asyncio.to_thread(self.mark, paths, tags)
        except StaleServerError as exc:
            return _error(409, str(exc), "POST")
        except StoreError as exc:
            log.error("revalidation request: the mutable store failed: %s", exc)
            return _error(503, "the mutable store did not answer; nothing or not everything was marked",
                          "POST", [("retry-after", "1")])
        except PerseusError as exc:
            log.error("revalidation request failed: %s", exc)
            return _error(500, "revalidation failed; the server's log says why", "POST")
        log.info("revalidation request: %d page(s) marked due, %d cannot be revalidated",
                 len(report.marked), len(report.skipped))
        return Response(200, HEADERS, orjson.dumps(report.to_json()))


def revalidate_route(dist: Path, settings: Settings) -> RevalidateRoute | None:
    """The route of the site built in ``dist``; None without ``PERSEUS_REVALIDATE_TOKEN``."""
    if settings.revalidate_token is None:
        return None

    def mark(paths: list[str], tags: list[str]) -> RevalidationReport:
        return revalidate(dist, paths, tags=tags, ignore_missing=True, settings=settings)

    return RevalidateRoute(settings.revalidate_token, mark)


def _parse(raw: bytes) -> tuple[list[str], list[str]]:
    """``(paths, tags)`` from the JSON body ``{"paths": [...], "tags": [...]}``.

    Raises:
        ValueError: saying what is wrong with the body.
    """
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError('the body is not JSON; send {"paths": [...], "tags": [...]}') from None
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object: {"paths": [...], "tags": [...]}')
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; the fields are 'paths' and 'tags'")
    lists = {}
    for name in FIELDS:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{name!r} must be a list of strings")
        lists[name] = value
    if not lists["paths"] and not lists["tags"]:
        raise ValueError("name the pages: 'paths', 'tags' or both")
    try:
        tags = [check_tag(tag) for tag in lists["tags"]]
    except TagError as exc:
        raise ValueError(str(exc)) from None
    return lists["paths"], tags


def _message(status: int, message: str) -> bytes:
    return orjson.dumps({"error": {"status": status, "message": message}})


def _error(status: int, message: str, method: str, extra: list[tuple[str, str]] | None = None) -> Response:
    body = _message(status, message) if method != "HEAD" else b""
    return Response(status, HEADERS + (extra or []), body)
