"""Errors raised by the kernels; the engine maps them to HTTP statuses."""

from __future__ import annotations


class BadPath(ValueError):
    """A request path that no page can have.

    Raised for a malformed percent escape (``%zz``, a trailing ``%``), invalid
    UTF-8, or a control character (servers decode invalid UTF-8 to U+FFFD, which
    is refused too). The engine answers 400.

    NOTE: paths arrive decoded, and granian's RSGI gives no raw path: a malformed
    escape is known by the ``%`` it leaves, not followed by two hex digits. So a
    literal ``%`` so placed (sent as ``%25zz``) is refused too, on both adapters alike.
    """


def wrong_type(what: str, expected: str, value: object) -> TypeError:
    """The ``TypeError`` both twins of a kernel raise for an argument of the wrong type.

    NOTE: subclasses are accepted (``isinstance``), as the pure twins always did: Cython's
    typed ``str`` arguments would refuse them (``markupsafe.Markup`` is one).
    """
    return TypeError(f"{what} must be {expected}, not {type(value).__name__}")
