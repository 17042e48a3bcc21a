"""Pure-Python twin of ``_paths_c``: request-path normalisation."""

from __future__ import annotations

import re

from .errors import BadPath, wrong_type

# Control characters, DEL, and U+FFFD (what a server puts where it met invalid UTF-8).
_INVALID = re.compile("[\x00-\x1f\x7f\ufffd]")
# A "%" not followed by two hex digits: what granian's RSGI leaves of a malformed escape.
_MALFORMED_ESCAPE = re.compile("%(?![0-9A-Fa-f]{2})")


def normalize_path(path: str) -> str:
    """Turn a decoded request path into a render-config key: ``/post//a/`` -> ``post/a``.

    Raises:
        BadPath: the path holds a control character, U+FFFD, or a ``%`` not followed by
            two hex digits (a malformed escape left as it was; see ``errors.BadPath``).
        TypeError: ``path`` is not ``str``.
    """
    if not isinstance(path, str):
        raise wrong_type("path", "str", path)
    # PERF: one regex with both alternatives took twice as long on every path.
    if _INVALID.search(path) is not None or ("%" in path and _MALFORMED_ESCAPE.search(path)):
        raise BadPath(repr(path))
    if "//" in path:
        return "/".join([segment for segment in path.split("/") if segment])
    # NOTE: without "//" there is at most one slash at either end.
    return path.strip("/")
