# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython kernel: HTML escaping and script-safe JSON in one pass over the text."""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy


def escape_html(str text):
    """Escape text for an HTML text node or a quoted attribute value."""
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


cdef inline Py_ssize_t _extra(const unsigned char* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    # Bytes added when the byte at i starts a sequence that must be escaped.
    cdef unsigned char c = p[i]
    if c == 60 or c == 62 or c == 38:          # < > &  -> \u00XX (6 bytes for 1)
        return 5
    if c == 0xE2 and i + 2 < n and p[i + 1] == 0x80 and (p[i + 2] == 0xA8 or p[i + 2] == 0xA9):
        return 3                                # U+2028/9 -> \u202X (6 bytes for 3)
    return 0


def escape_script_json(bytes data):
    """Make UTF-8 JSON inert inside a ``<script>`` element (see the pure twin)."""
    cdef const unsigned char* src = <const unsigned char*> PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t i, extra = 0
    for i in range(n):
        extra += _extra(src, i, n)
    if extra == 0:
        return data
    out = PyBytes_FromStringAndSize(NULL, n + extra)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    cdef Py_ssize_t j = 0
    cdef unsigned char c
    i = 0
    while i < n:
        c = src[i]
        if c == 60 or c == 62 or c == 38:
            memcpy(dst + j, b"\\u00", 4)
            dst[j + 4] = b"3"[0] if c != 38 else b"2"[0]
            dst[j + 5] = b"c"[0] if c == 60 else (b"e"[0] if c == 62 else b"6"[0])
            j += 6
            i += 1
        elif c == 0xE2 and i + 2 < n and src[i + 1] == 0x80 and (src[i + 2] == 0xA8 or src[i + 2] == 0xA9):
            memcpy(dst + j, b"\\u202", 5)
            dst[j + 5] = b"8"[0] if src[i + 2] == 0xA8 else b"9"[0]
            j += 6
            i += 3
        else:
            dst[j] = c
            j += 1
            i += 1
    return out
