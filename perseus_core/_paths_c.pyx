# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython kernel: request-path normalisation (see the pure twin)."""

from .errors import BadPath, wrong_type


def normalize_path(path):
    """Turn a decoded request path into a render-config key (see the pure twin)."""
    if not isinstance(path, str):
        raise wrong_type("path", "str", path)
    cdef str text = <str> path
    cdef Py_ssize_t n = len(text)
    cdef Py_UCS4 ch
    cdef bint previous_slash = False, doubled = False
    for ch in text:
        if ch < 32 or ch == 127 or ch == 0xFFFD or ch == 37:  # 37: "%", see errors.BadPath
            raise BadPath(repr(text))
        if ch == 47:
            doubled = doubled or previous_slash
            previous_slash = True
        else:
            previous_slash = False
    if doubled:
        return "/".join([segment for segment in text.split("/") if segment])
    cdef Py_ssize_t start = 1 if n and text[0] == "/" else 0
    cdef Py_ssize_t end = n - 1 if n > start and text[n - 1] == "/" else n
    if start == 0 and end == n:
        return text
    return text[start:end]
