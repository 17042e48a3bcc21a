"""Pure-Python twin of ``_paths_c``: request-path normalisation."""

from __future__ import annotations

import re

from .errors import BadPath, wrong_type

# Control characters, DEL, U+FFFD (what a server puts where it met invalid UTF-8), and
# "%", which a decoded path holds only where an escape was malformed (or sent as %25).
_INVALID = re.compile("[\x00-\x1f\x7f\ufffd%]")


def normalize_path(path: str) -> str:
    """Turn a decoded request path into a render-config key: ``/post//a/`` -> ``post/a``.

    Raises:
        BadPath: the path holds a control character, U+FFFD, or a ``%`` (what a
            malformed escape leaves; see ``errors.BadPath``).
        TypeError: ``path`` is not ``str``.
    """
    if not isinstance(path, str):
        raise wrong_type("path", "str", path)
    if _INVALID.search(path) is not None:
        raise BadPath(repr(path))
    if "//" in path:
        return "/".join([segment for segment in path.split("/") if segment])
    # NOTE: without "//" there is at most one slash at either end.
    return path.strip("/")
