# cython: language_level=3, boundscheck=False, wraparound=False
"""Cython kernel: page assembly into the shell (see the pure twin).

PERF: the page's parts are copied once, straight from each str's UTF-8 (which
CPython already holds for ASCII text), into one bytes object of the final size;
the pure twin encodes head and content to temporary bytes first.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

from ._shell_py import STATE_REFUSED, split_document
from .errors import wrong_type


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL


cdef inline Py_ssize_t _put(char* out, Py_ssize_t at, const char* data, Py_ssize_t size) noexcept:
    memcpy(out + at, data, size)
    return at + size


cdef inline Py_ssize_t _put_bytes(char* out, Py_ssize_t at, bytes data) noexcept:
    return _put(out, at, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


cdef class Shell:
    """An HTML document split at the points where a page's parts go (see the pure twin)."""

    cdef readonly bytes before_lang, before_head, before_content, before_state, after_state
    cdef readonly bint embeds_state
    cdef Py_ssize_t _fixed

    def __init__(self, document, scripts, embeds_state=True):
        # split_document refuses anything but text (and a bool flag), as the pure twin does.
        (self.before_lang, self.before_head, self.before_content, self.before_state,
         self.after_state) = split_document(document, scripts, embeds_state)
        self.embeds_state = embeds_state
        self._fixed = (len(self.before_lang) + len(self.before_head) + len(self.before_content)
                       + len(self.before_state) + len(self.after_state))

    def page(self, lang, head, content, escaped_state):
        """The whole page: ``escaped_state`` must already be script-safe JSON."""
        # NOTE: checked here rather than by typed arguments, which refuse subclasses
        # (a view may return a markupsafe.Markup); the messages are the pure twin's.
        if not isinstance(lang, str):
            raise wrong_type("lang", "str", lang)
        if not isinstance(head, str):
            raise wrong_type("head", "str", head)
        if not isinstance(content, str):
            raise wrong_type("content", "str", content)
        if not isinstance(escaped_state, bytes):
            raise wrong_type("escaped_state", "bytes", escaped_state)
        if not self.embeds_state and PyBytes_GET_SIZE(escaped_state):
            raise ValueError(STATE_REFUSED)
        cdef Py_ssize_t lang_size, head_size, content_size
        cdef const char* lang_data = PyUnicode_AsUTF8AndSize(lang, &lang_size)
        cdef const char* head_data = PyUnicode_AsUTF8AndSize(head, &head_size)
        cdef const char* content_data = PyUnicode_AsUTF8AndSize(content, &content_size)
        cdef Py_ssize_t lang_attr = lang_size + 8 if lang_size else 0  # ' lang="' + lang + '"'
        out = PyBytes_FromStringAndSize(
            NULL, self._fixed + lang_attr + head_size + content_size + PyBytes_GET_SIZE(escaped_state))
        cdef char* dst = PyBytes_AS_STRING(out)
        cdef Py_ssize_t at = _put_bytes(dst, 0, self.before_lang)
        if lang_size:
            at = _put(dst, at, b' lang="', 7)
            at = _put(dst, at, lang_data, lang_size)
            at = _put(dst, at, b'"', 1)
        at = _put_bytes(dst, at, self.before_head)
        at = _put(dst, at, head_data, head_size)
        at = _put_bytes(dst, at, self.before_content)
        at = _put(dst, at, content_data, content_size)
        at = _put_bytes(dst, at, self.before_state)
        at = _put_bytes(dst, at, <bytes> escaped_state)
        _put_bytes(dst, at, self.after_state)
        return out
