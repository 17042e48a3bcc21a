# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython kernel: request-path normalisation (see the pure twin)."""

from .errors import BadPath


def normalize_path(str path):
    """Turn a decoded request path into a render-config key (see the pure twin)."""
    cdef Py_ssize_t n = len(path)
    cdef Py_UCS4 ch
    cdef bint previous_slash = False, doubled = False
    for ch in path:
        if ch < 32 or ch == 127 or ch == 0xFFFD:
            raise BadPath(repr(path))
        if ch == 47:
            doubled = doubled or previous_slash
            previous_slash = True
        else:
            previous_slash = False
    if doubled:
        return "/".join([segment for segment in path.split("/") if segment])
    cdef Py_ssize_t start = 1 if n and path[0] == "/" else 0
    cdef Py_ssize_t end = n - 1 if n > start and path[n - 1] == "/" else n
    if start == 0 and end == n:
        return path
    return path[start:end]
