"""Every URL perseus serves itself, and the URL of a page: spelled here and nowhere else.

Pages live at ``/<path>`` without i18n and at ``/<locale>/<path>`` with it; perseus's own
routes live below ``/.perseus/`` (no page may be built there).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

RESERVED_SEGMENT = ".perseus"
INTERNAL_PREFIX = "/" + RESERVED_SEGMENT + "/"
PAGE_DATA_PREFIX = INTERNAL_PREFIX + "page/"
PAGE_DATA_SUFFIX = ".json"
STATIC_PREFIX = INTERNAL_PREFIX + "static/"
TRANSLATIONS_PREFIX = INTERNAL_PREFIX + "translations/"
CLIENT_PATH = INTERNAL_PREFIX + "client.js"
DEV_EVENTS_PATH = INTERNAL_PREFIX + "dev/events"
REVALIDATE_PATH = INTERNAL_PREFIX + "revalidate"
HEALTH_PATH = INTERNAL_PREFIX + "health"
READY_PATH = INTERNAL_PREFIX + "ready"
METRICS_PATH = INTERNAL_PREFIX + "metrics"


def page_url(locale: str | None, path: str, base_path: str = "") -> str:
    """The URL path of a page: ``locale`` None without i18n; ``path`` a route key (no slashes
    at either end, ``""`` for the index)."""
    if locale is None:
        return f"{base_path}/{path}"
    return f"{base_path}/{locale}/{path}" if path else f"{base_path}/{locale}"


def page_data_url(locale: str, path: str, base_path: str = "") -> str:
    """The JSON endpoint of a page (the index's is ``/.perseus/page/<locale>/.json``)."""
    return f"{base_path}{PAGE_DATA_PREFIX}{locale}/{path}{PAGE_DATA_SUFFIX}"


def export_file(url: str) -> str:
    """The file an exported site holds for one of perseus's own URLs: no leading slash."""
    return url.lstrip("/")


def decode_target(raw: bytes) -> str:
    """A raw request path decoded as granian's RSGI decodes it, so both adapters route alike.

    Each valid escape is decoded once (``%2F`` too), a malformed one (``%zz``) is left as it
    is, and invalid UTF-8 becomes U+FFFD; the router then refuses both with 400 (a ``%``,
    U+FFFD: ``perseus_core.errors.BadPath``). RSGI gives no raw path, so the rule is read
    from the decoded one on both adapters.
    """
    return unquote_to_bytes(raw).decode("utf-8", "replace")
