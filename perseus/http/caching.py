"""Cache-Control per strategy, for browsers and for the CDN in front: one decision, made
from the settings when a site opens (so ``PERSEUS_CDN_MAX_AGE`` and ``PERSEUS_CDN_SWR``
take effect at the next start, with no rebuild).

    prerendered, incremental    public, max-age=0, must-revalidate[, s-maxage=<cdn_max_age>]
    revalidating                public, max-age=0, s-maxage=<interval>, stale-while-revalidate=<cdn_swr>
    request state               private, no-store

Browsers always revalidate (``max-age=0``: a cheap 304 through the ETag). A revalidating
page has no ``must-revalidate``: it would forbid serving stale, the point of
``stale-while-revalidate``. A page whose template has ``should_revalidate`` and no
interval gets ``s-maxage=0``: only the server can ask the logic, so the CDN asks the
server on each request, in the background while ``stale-while-revalidate`` lasts.
"""

from __future__ import annotations

import math

from .bodies import BUILT_PAGE_CACHE, PER_REQUEST_CACHE
from .response import Headers

CACHE_STATUS = "x-perseus-cache"


class CachePolicy:
    """The Cache-Control value of each strategy, from ``PERSEUS_CDN_MAX_AGE`` and ``PERSEUS_CDN_SWR``."""

    def __init__(self, cdn_max_age: int = 0, cdn_swr: int = 86400) -> None:
        # NOTE: with 0 (the default) the value stays as a build without a CDN wrote it.
        self.prerendered = BUILT_PAGE_CACHE + (f", s-maxage={cdn_max_age}" if cdn_max_age else "")
        self.cdn_swr = cdn_swr
        self.per_request = PER_REQUEST_CACHE

    def revalidating(self, interval: float | None) -> str:
        """The value for pages revalidated every ``interval`` seconds (None: by logic only)."""
        seconds = math.ceil(interval) if interval else 0
        return f"public, max-age=0, s-maxage={seconds}, stale-while-revalidate={self.cdn_swr}"

    def of(self, revalidates: bool, interval: float | None, per_request: bool) -> str:
        """The value for a page of a template: revalidating (after ``interval`` seconds, or by
        logic only), rendered per request, or neither (prerendered, generated once)."""
        if per_request:
            return self.per_request
        return self.revalidating(interval) if revalidates else self.prerendered


def page_headers(headers: Headers, cache_control: str, cache_status: str) -> Headers:
    """A page's headers as built, with the strategy's ``cache_control`` and its cache status.

    The build wrote ``BUILT_PAGE_CACHE`` unless the template's ``set_headers`` chose a
    Cache-Control of its own, which is kept.
    """
    chosen = [(name, cache_control if name == "cache-control" and value == BUILT_PAGE_CACHE else value)
              for name, value in headers]
    chosen.append((CACHE_STATUS, cache_status))
    return chosen
