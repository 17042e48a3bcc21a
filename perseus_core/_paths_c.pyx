# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython kernel: request-path decoding, normalisation and store keys (see the pure twin)."""

import hashlib

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcpy

from .errors import BadPath

MAX_KEY_BYTES = 511
PLAIN_KEY = 0x6B
HASHED_KEY = 0x68


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL


cdef inline int _hex(unsigned char c) noexcept:
    if 48 <= c <= 57:
        return c - 48
    c |= 0x20
    if 97 <= c <= 102:
        return c - 87
    return -1


cdef str _utf8(const char* data, Py_ssize_t size, object raw):
    try:
        return PyUnicode_DecodeUTF8(data, size, NULL)
    except UnicodeDecodeError:
        raise BadPath(repr(raw)) from None


def decode_path(bytes raw):
    """Percent-decode a raw request path exactly once, strictly (see the pure twin)."""
    cdef const unsigned char* src = <const unsigned char*> PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    if memchr(src, 37, n) == NULL:
        return _utf8(<const char*> src, n, raw)
    out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    cdef Py_ssize_t i = 0, j = 0
    cdef int high, low
    cdef unsigned char c
    while i < n:
        c = src[i]
        if c == 37:  # '%'
            high = _hex(src[i + 1]) if i + 1 < n else -1
            low = _hex(src[i + 2]) if i + 2 < n else -1
            if high < 0 or low < 0:
                raise BadPath(repr(raw))
            c = <unsigned char> (high * 16 + low)
            i += 3
        else:
            i += 1
        dst[j] = c
        j += 1
    return _utf8(<const char*> dst, j, raw)


cdef bytes _SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/"
cdef unsigned char _safe[256]
for _byte in _SAFE:
    _safe[_byte] = 1
cdef const char* _UPPER_HEX = b"0123456789ABCDEF"


def encode_path(str path):
    """Percent-encode a path for a URL (see the pure twin)."""
    cdef Py_ssize_t n, i, extra = 0
    cdef const unsigned char* src = <const unsigned char*> PyUnicode_AsUTF8AndSize(path, &n)
    for i in range(n):
        if not _safe[src[i]]:
            extra += 2
    if extra == 0:
        return PyBytes_FromStringAndSize(<const char*> src, n)
    out = PyBytes_FromStringAndSize(NULL, n + extra)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    cdef Py_ssize_t j = 0
    for i in range(n):
        if _safe[src[i]]:
            dst[j] = src[i]
            j += 1
        else:
            dst[j] = 37
            dst[j + 1] = _UPPER_HEX[src[i] >> 4]
            dst[j + 2] = _UPPER_HEX[src[i] & 15]
            j += 3
    return out


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


def encode_key(str locale, str path):
    """The reversible store key of a page (see the pure twin)."""
    cdef Py_ssize_t locale_size, path_size
    cdef const char* locale_data = PyUnicode_AsUTF8AndSize(locale, &locale_size)
    if locale_size > 255:
        raise ValueError(f"locale too long for a store key: {locale[:40]!r}")
    cdef const char* path_data = PyUnicode_AsUTF8AndSize(path, &path_size)
    out = PyBytes_FromStringAndSize(NULL, 2 + locale_size + path_size)
    cdef unsigned char* dst = <unsigned char*> PyBytes_AS_STRING(out)
    dst[0] = PLAIN_KEY
    dst[1] = <unsigned char> locale_size
    memcpy(dst + 2, locale_data, locale_size)
    memcpy(dst + 2 + locale_size, path_data, path_size)
    return out


def decode_key(bytes key):
    """``(locale, path)`` back from ``encode_key`` (see the pure twin)."""
    cdef const char* src = PyBytes_AS_STRING(key)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(key)
    if n < 2 or <unsigned char> src[0] != PLAIN_KEY or n < 2 + <unsigned char> src[1]:
        raise ValueError("not a plain store key (hashed keys keep their path in the record)")
    cdef Py_ssize_t end = 2 + <unsigned char> src[1]
    try:
        return PyUnicode_DecodeUTF8(src + 2, end - 2, NULL), PyUnicode_DecodeUTF8(src + end, n - end, NULL)
    except UnicodeDecodeError:
        raise ValueError("not a plain store key: invalid UTF-8") from None


def hash_key(bytes key):
    """The fixed-length (33-byte) key that stands for a plain key too long for LMDB."""
    return b"h" + hashlib.blake2b(key, digest_size=32).digest()


def store_key(str locale, str path):
    """The LMDB key of a page: ``encode_key`` when it fits in 511 bytes, else its hash."""
    key = encode_key(locale, path)
    return key if PyBytes_GET_SIZE(key) <= MAX_KEY_BYTES else hash_key(key)
