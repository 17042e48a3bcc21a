"""Errors raised by the kernels; the engine maps them to HTTP statuses."""

from __future__ import annotations


class BadPath(ValueError):
    """A request path that no page can have.

    Raised for a malformed percent escape (``%zz``, a trailing ``%``), invalid
    UTF-8, or a control character (servers decode invalid UTF-8 to U+FFFD, which
    is refused too). The engine answers 400.
    """
