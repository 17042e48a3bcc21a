"""Absolute URLs of a site's pages, for files read by other machines (sitemaps, feeds)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from ..errors import ConfigurationError

# Characters a URL may hold as they are; the rest (spaces, quotes, non-ASCII) is escaped.
_URL_SAFE = "/%:@!$&'()*+,;=-._~"


def check_base_url(base_url: object, plugin: str) -> str:
    """``base_url`` without its trailing slash, refused unless an absolute http(s) URL."""
    if not isinstance(base_url, str):
        raise ConfigurationError(f"{plugin}: base_url must be the site's URL such as 'https://example.com'")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"{plugin}: base_url {base_url!r} must be an absolute http(s) URL"
                                 " without query or fragment, such as 'https://example.com'")
    return base_url.rstrip("/")


def absolute(base_url: str, url: str) -> str:
    """``base_url`` joined with a page's URL path, escaped as a URL."""
    return base_url + quote(url, safe=_URL_SAFE)
