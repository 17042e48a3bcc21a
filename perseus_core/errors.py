"""Errors raised by the kernels; the engine maps them to HTTP statuses."""

from __future__ import annotations


class BadPath(ValueError):
    """A request path that no page can have.

    Raised for a malformed percent escape (``%zz``, ``%%41``, a trailing ``%``), invalid
    UTF-8, or a control character (servers decode invalid UTF-8 to U+FFFD, which
    is refused too). The engine answers 400.

    NOTE: paths arrive decoded, and granian's RSGI gives no raw path: a malformed
    escape is known by the ``%`` it leaves (``%%41`` decodes to ``%A``, which looks
    well formed, so no rule about what follows the ``%`` can tell). A literal ``%``
    (sent as ``%25``) is refused too, on both adapters alike: no page has one.
    """


def wrong_type(what: str, expected: str, value: object) -> TypeError:
    """The ``TypeError`` both twins of a kernel raise for an argument of the wrong type.

    NOTE: subclasses are accepted (``isinstance``), as the pure twins always did: Cython's
    typed ``str`` arguments would refuse them (``markupsafe.Markup`` is one).
    """
    return TypeError(f"{what} must be {expected}, not {type(value).__name__}")
