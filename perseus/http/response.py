"""The neutral response every route of the engine returns."""

from __future__ import annotations

from http import HTTPStatus

Headers = list[tuple[str, str]]
# Statuses the server answers with an error page of its own; each is prerendered per locale.
# Any other 4xx or 5xx (a state function raising perseus.HTTPError) is rendered when first
# answered, then kept (turbine.built.ErrorPages).
ERROR_STATUSES = {400: "bad request", 404: "page not found", 405: "method not allowed",
                  500: "internal server error", 503: "service unavailable", 504: "gateway timeout"}


def error_message(status: int) -> str:
    """The short message of an error status, as error pages show it ("gone" for 410)."""
    message = ERROR_STATUSES.get(status)
    if message is None:
        try:
            message = HTTPStatus(status).phrase.lower()
        except ValueError:
            message = "error"
    return message


# What a page or page-data answer came from, sent as ``x-perseus-cache`` (like Next.js's
# ``x-nextjs-cache``) and read by the access log and metrics. Other answers have NO_CACHE_STATUS.
HIT = "HIT"  # a prerendered page, or a stored version still fresh
STALE = "STALE"  # a stored version past its time, served while a regeneration runs
MISS = "MISS"
GENERATED = "GENERATED"  # generated for this request (first request of an incremental page)
BYPASS = "BYPASS"  # rendered for this request only (request state): never stored
NO_CACHE_STATUS = ""


class Response:
    """A status, headers and either a body or a file for the server to stream.

    ``cache`` is one of the cache statuses above (the same value as the ``x-perseus-cache``
    header the answer carries), or NO_CACHE_STATUS.
    """

    __slots__ = ("status", "headers", "body", "file", "cache")

    def __init__(self, status: int, headers: Headers, body: bytes = b"", file: str | None = None,
                 cache: str = NO_CACHE_STATUS) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.file = file
        self.cache = cache

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes{' file' if self.file else ''}>"


def etag_matches(if_none_match: str | None, current: str) -> bool:
    """Whether an ``If-None-Match`` header names ``current`` (weak comparison)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    weak = current.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == weak for tag in if_none_match.split(","))
