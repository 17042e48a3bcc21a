"""Route matching over the render configuration (compiled by mypyc).

A request path is normalised once (empty segments and the trailing slash dropped),
then matched: the exact page first, else the most specific incremental template
whose root is a prefix of the path, else nothing.
"""

from __future__ import annotations

from typing import Final

PAGE: Final = 0
INCREMENTAL: Final = 1
NOT_FOUND: Final = 2


class BadPath(ValueError):
    """A request path that no page can have: invalid UTF-8 or a control character."""


def normalize_path(path: str) -> str:
    """Turn a decoded request path into a render-config key: ``/post//a/`` -> ``post/a``.

    Raises:
        BadPath: the path held invalid UTF-8 (which servers decode to U+FFFD) or
            a control character such as NUL.
    """
    for ch in path:
        if ch < " " or ch == "\x7f" or ch == "\ufffd":
            raise BadPath(path)
    if "//" not in path and not path.endswith("/"):
        return path[1:] if path.startswith("/") else path
    return "/".join([segment for segment in path.split("/") if segment])


class Router:
    """Matches normalised paths to page ids and incremental template ids."""

    def __init__(self, pages: dict[str, int], incremental: dict[str, int]) -> None:
        self.pages = pages
        self.incremental = incremental

    def match(self, path: str) -> tuple[int, int]:
        """Return ``(PAGE, page_id)``, ``(INCREMENTAL, template_id)`` or ``(NOT_FOUND, -1)``."""
        page = self.pages.get(path, -1)
        if page >= 0:
            return PAGE, page
        if self.incremental:
            prefix = path
            while prefix:
                cut = prefix.rfind("/")
                prefix = prefix[:cut] if cut > 0 else ""
                template = self.incremental.get(prefix, -1)
                if template >= 0:
                    return INCREMENTAL, template
        return NOT_FOUND, -1


def _hex(byte: int) -> int:
    if 48 <= byte <= 57:
        return byte - 48
    byte |= 0x20
    if 97 <= byte <= 102:
        return byte - 87
    return -1


def decode_request_path(raw: bytes) -> str:
    """Percent-decode a raw request path exactly once, strictly.

    Raises:
        BadPath: a malformed escape (``%zz``, a trailing ``%``) or invalid UTF-8.
    """
    if b"%" not in raw:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadPath(repr(raw)) from None
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        byte = raw[i]
        if byte == 37:  # '%'
            high = _hex(raw[i + 1]) if i + 1 < n else -1
            low = _hex(raw[i + 2]) if i + 2 < n else -1
            if high < 0 or low < 0:
                raise BadPath(repr(raw))
            out.append(high * 16 + low)
            i += 3
        else:
            out.append(byte)
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath(repr(raw)) from None
