"""Pure-Python twin of ``_paths_c``: request-path normalisation."""

from __future__ import annotations

import re

from .errors import BadPath

# Control characters, DEL, and U+FFFD (what a server puts where it met invalid UTF-8).
_INVALID = re.compile("[\x00-\x1f\x7f\ufffd]")


def normalize_path(path: str) -> str:
    """Turn a decoded request path into a render-config key: ``/post//a/`` -> ``post/a``.

    Raises:
        BadPath: the path holds a control character or U+FFFD.
    """
    if _INVALID.search(path) is not None:
        raise BadPath(repr(path))
    if "//" in path:
        return "/".join([segment for segment in path.split("/") if segment])
    # NOTE: without "//" there is at most one slash at either end.
    return path.strip("/")
