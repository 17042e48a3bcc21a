# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython kernel: HTML escaping and script-safe JSON in one pass over the text."""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memchr, memcpy

from .errors import wrong_type


def escape_html(text):
    """Escape text for an HTML text node or a quoted attribute value (see the pure twin)."""
    if not isinstance(text, str):
        raise wrong_type("text", "str", text)
    return _escape_html(<str> text)


cdef str _escape_html(str text):
    cdef Py_ssize_t n = len(text)
    cdef Py_ssize_t i
    cdef Py_UCS4 ch
    cdef Py_ssize_t start = 0
    cdef list parts = None
    for i in range(n):
        ch = text[i]
        if ch > 62 or (ch != 38 and ch != 60 and ch != 62 and ch != 34 and ch != 39):
            continue
        if parts is None:
            parts = []
        if i > start:
            parts.append(text[start:i])
        if ch == 38:
            parts.append("&amp;")
        elif ch == 60:
            parts.append("&lt;")
        elif ch == 62:
            parts.append("&gt;")
        elif ch == 34:
            parts.append("&quot;")
        else:
            parts.append("&#x27;")
        start = i + 1
    if parts is None:
        return text
    if start < n:
        parts.append(text[start:])
    return "".join(parts)


cdef const unsigned char* _SPECIALS = b"<>&\xe2"  # U+2028/9 start with 0xE2 in UTF-8


cdef inline bint _line_end(const unsigned char* p, const unsigned char* end) noexcept:
    # Whether the 0xE2 at p starts U+2028 or U+2029.
    return p + 2 < end and p[1] == 0x80 and (p[2] == 0xA8 or p[2] == 0xA9)


cdef inline const unsigned char* _next(const unsigned char* p, const unsigned char* end, int c) noexcept:
    cdef const unsigned char* found = <const unsigned char*> memchr(p, c, end - p)
    return found if found != NULL else end


def escape_script_json(data):
    """Make UTF-8 JSON inert inside a ``<script>`` element (see the pure twin).

    PERF: libc's vectorised ``memchr`` finds each special byte, and the runs
    between them are copied with ``memcpy``: JSON state has few such bytes.
    """
    if not isinstance(data, bytes):
        raise wrong_type("data", "bytes", data)
    return _escape_script_json(<bytes> data)


cdef bytes _escape_script_json(bytes data):
    cdef const unsigned char* src = <const unsigned char*> PyBytes_AS_STRING(data)
    cdef const unsigned char* end = src + PyBytes_GET_SIZE(data)
    cdef const unsigned char* p
    cdef Py_ssize_t extra = 0
    cdef int k
    for k in range(4):
        p = _next(src, end, _SPECIALS[k])
        while p < end:
            if k < 3:
                extra += 5  # one byte becomes \u00XX
            elif _line_end(p, end):
                extra += 3  # three bytes become \u202X
            p = _next(p + 1, end, _SPECIALS[k])
    if extra == 0:
        return data
    out = PyBytes_FromStringAndSize(NULL, (end - src) + extra)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    cdef const unsigned char* following[4]
    for k in range(4):
        following[k] = _next(src, end, _SPECIALS[k])
    cdef const unsigned char* at
    cdef int which
    p = src
    while True:
        which = 0
        for k in range(1, 4):
            if following[k] < following[which]:
                which = k
        at = following[which]
        memcpy(dst, p, at - p)
        dst += at - p
        if at == end:
            break
        if which < 3:
            memcpy(dst, b"\\u00", 4)
            dst[4] = b"3"[0] if which < 2 else b"2"[0]
            dst[5] = b"c"[0] if which == 0 else (b"e"[0] if which == 1 else b"6"[0])
            dst += 6
            p = at + 1
        elif _line_end(at, end):
            memcpy(dst, b"\\u202", 5)
            dst[5] = b"8"[0] if at[2] == 0xA8 else b"9"[0]
            dst += 6
            p = at + 3
        else:  # another character starting with 0xE2: copied as it is
            dst[0] = at[0]
            dst += 1
            p = at + 1
        following[which] = _next(at + 1, end, _SPECIALS[which])
    return out
