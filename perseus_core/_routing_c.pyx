# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython kernel: route matching in one pass over the path (see the pure twin).

PERF: an ASCII path without "//" or "%" (nearly every request) is checked eight
bytes at a time and matched in place; any other path is normalised into a stack
buffer of UTF-8 in one scan. Each lookup (the exact key, then each shorter prefix
that could be an incremental root: no longer and no deeper than the longest and
the deepest root, so routing stays linear in the path's length) hashes the key
eight bytes at a time and probes an open-addressing table whose slots carry 32
bits of the hash, so a probe that misses rarely touches the key itself. No
``str.split``, no slices, no new strings.
NOTE: only the app's own routes are ever inserted, so request paths cannot grow
probe chains (no hash flooding); they can only pick among existing ones.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset


from ._routing_py import check_routes, root_depth, route_table
from .errors import BadPath, wrong_type

PAGE = 0
INCREMENTAL = 1
NOT_FOUND = 2
NO_LOCALE = 3
cdef tuple NOT_FOUND_PAIR = (NOT_FOUND, -1)

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_ASCII(object text)
    void* PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)


cdef enum:
    STACK_BYTES = 512    # longer paths use a heap buffer

cdef uint64_t MULTIPLIER = 0x9E3779B97F4A7C15ULL


cdef struct Entry:
    # PERF: stored in one arena, each entry directly followed by its key's UTF-8,
    # so a hit reads one slot and one record.
    # NOTE: ids, not prebuilt verdict tuples: 10,000 pages of tuples outgrow the
    # CPU caches, and a cache miss costs more than building the tuple.
    Py_ssize_t length
    Py_ssize_t page         # the page id, or -1
    Py_ssize_t template     # the id of the incremental template rooted here, or -1


cdef inline Py_ssize_t _record_size(Py_ssize_t length) noexcept nogil:
    return sizeof(Entry) + ((length + 7) & ~7)


cdef inline uint64_t _tail(const unsigned char* p, Py_ssize_t n, uint64_t word) noexcept nogil:
    # The last n < 8 bytes over ``word``, little-endian like memcpy, without a
    # libc call (a memcpy of variable length is not inlined).
    cdef Py_ssize_t i
    for i in range(n):
        word = (word & ~(<uint64_t> 0xFF << (8 * i))) | (<uint64_t> p[i] << (8 * i))
    return word


cdef inline uint64_t _hash(const unsigned char* key, Py_ssize_t n) noexcept nogil:
    # Eight bytes per multiply; the length is mixed in so zero padding cannot collide.
    cdef uint64_t h = MULTIPLIER ^ (<uint64_t> n * 0xFF51AFD7ED558CCDULL)
    cdef uint64_t word
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&word, key + i, 8)
        h = (h ^ word) * MULTIPLIER
        h ^= h >> 32
        i += 8
    if i < n:
        h = (h ^ _tail(key + i, n - i, 0)) * MULTIPLIER
        h ^= h >> 32
    return h ^ (h >> 29)


cdef inline Py_ssize_t _utf8(uint32_t ch, unsigned char* out) noexcept nogil:
    # Write one code point as UTF-8 (surrogates included, like "surrogatepass").
    if ch < 0x80:
        out[0] = <unsigned char> ch
        return 1
    if ch < 0x800:
        out[0] = <unsigned char> (0xC0 | (ch >> 6))
        out[1] = <unsigned char> (0x80 | (ch & 0x3F))
        return 2
    if ch < 0x10000:
        out[0] = <unsigned char> (0xE0 | (ch >> 12))
        out[1] = <unsigned char> (0x80 | ((ch >> 6) & 0x3F))
        out[2] = <unsigned char> (0x80 | (ch & 0x3F))
        return 3
    out[0] = <unsigned char> (0xF0 | (ch >> 18))
    out[1] = <unsigned char> (0x80 | ((ch >> 12) & 0x3F))
    out[2] = <unsigned char> (0x80 | ((ch >> 6) & 0x3F))
    out[3] = <unsigned char> (0x80 | (ch & 0x3F))
    return 4


cdef enum:
    SCAN_CLEAN = 0       # no control character, no "//", no "%"
    SCAN_BAD = 1         # a control character or DEL: certainly there
    SCAN_MAYBE = 2       # perhaps "//" or "%": normalise the slow way, which is exact


cdef inline int _scan_ascii(const unsigned char* data, Py_ssize_t n) noexcept nogil:
    # PERF: eight ASCII bytes per step (SWAR). A flag can only be wrong in the
    # byte above a true match (borrow), so "bad" is exact about whether there is
    # one, and a false "//" or "%" only sends the path down the exact slow path.
    cdef uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL
    cdef uint64_t word, t, slashes, bad = 0, pairs = 0, carry = 0, percent = 0
    cdef Py_ssize_t i = 0
    while i < n:
        if n - i >= 8:
            memcpy(&word, data + i, 8)
        else:  # pad a short tail with harmless "a"s
            word = _tail(data + i, n - i, 0x6161616161616161ULL)
        bad |= (word - 0x20 * ones) & ~word & high          # a byte below 0x20
        t = word ^ (0x7F * ones)
        bad |= (t - ones) & ~t & high                       # DEL
        t = word ^ (0x2F * ones)
        slashes = (t - ones) & ~t & high                    # "/"
        pairs |= (slashes & (slashes << 8)) | (carry & (slashes >> 7))
        carry = slashes >> 63
        t = word ^ (0x25 * ones)
        percent |= (t - ones) & ~t & high                   # "%"
        i += 8
    if bad:
        return SCAN_BAD
    return SCAN_MAYBE if pairs or percent else SCAN_CLEAN


cdef bytes _key_bytes(key):
    # NOTE: untyped, so that str subclasses pass (check_routes has refused anything else).
    return (<str> key).encode("utf-8", "surrogatepass")

cdef class Router:
    """Matches request paths to page ids and incremental template ids (see the pure twin)."""

    cdef uint64_t* _index        # slot -> hash's top 32 bits << 32 | record offset / 8 + 1; 0: empty
    cdef uint32_t _mask
    cdef unsigned char* _arena   # the records: Entry, then the key's UTF-8, 8-byte aligned
    cdef list _locale_keys       # the locales' UTF-8
    cdef bint _has_incremental
    cdef Py_ssize_t _root_depth    # segments of the deepest incremental root
    cdef Py_ssize_t _root_bytes    # UTF-8 length of the longest incremental root
    cdef readonly dict pages
    cdef readonly dict incremental
    cdef readonly tuple locales

    def __cinit__(self, *args, **kwargs):
        # An empty table, so a Router whose __init__ never ran matches nothing.
        self._arena = NULL
        self._mask = 7
        self._index = <uint64_t*> PyMem_Malloc(8 * sizeof(uint64_t))
        if self._index == NULL:
            raise MemoryError()
        memset(self._index, 0, 8 * sizeof(uint64_t))

    def __init__(self, pages, incremental, locales=()):
        check_routes(pages, incremental, locales)
        self.pages = route_table(pages)
        self.incremental = route_table(incremental)
        self.locales = tuple(locales)
        self._locale_keys = [_key_bytes(locale) for locale in self.locales]
        self._has_incremental = len(self.incremental) > 0
        self._root_depth = root_depth(self.incremental)
        self._root_bytes = max([len(_key_bytes(key)) for key in self.incremental], default=0)
        keys = list(dict.fromkeys([*self.pages, *self.incremental]))
        encoded = [_key_bytes(key) for key in keys]
        cdef Py_ssize_t capacity = 8
        while 2 * capacity < 3 * len(keys):
            capacity *= 2
        cdef Py_ssize_t arena_size = sum([_record_size(len(key)) for key in encoded])
        PyMem_Free(self._index)
        PyMem_Free(self._arena)
        self._index = <uint64_t*> PyMem_Malloc(capacity * sizeof(uint64_t))
        self._arena = <unsigned char*> PyMem_Malloc(arena_size + 8)
        if self._index == NULL or self._arena == NULL:
            raise MemoryError()
        self._mask = <uint32_t> (capacity - 1)
        cdef Py_ssize_t i
        for i in range(capacity):
            self._index[i] = 0
        cdef Py_ssize_t offset = 0
        cdef Entry* entry
        cdef uint32_t slot
        cdef uint64_t h
        cdef bytes utf8
        for i in range(len(keys)):
            utf8 = encoded[i]
            entry = <Entry*> (self._arena + offset)
            entry.length = len(utf8)
            entry.page = self.pages.get(keys[i], -1)
            entry.template = self.incremental.get(keys[i], -1)
            memcpy(self._arena + offset + sizeof(Entry), <const unsigned char*> utf8, entry.length)
            h = _hash(<const unsigned char*> utf8, entry.length)
            slot = <uint32_t> h & self._mask
            while self._index[slot]:
                slot = (slot + 1) & self._mask
            self._index[slot] = (h & 0xFFFFFFFF00000000ULL) | <uint64_t> (offset // 8 + 1)
            offset += _record_size(entry.length)

    def __dealloc__(self):
        PyMem_Free(self._index)
        PyMem_Free(self._arena)

    cdef inline Entry* _find(self, const unsigned char* key, Py_ssize_t n) noexcept:
        cdef uint64_t h = _hash(key, n)
        cdef uint64_t tag = h & 0xFFFFFFFF00000000ULL
        cdef uint32_t slot = <uint32_t> h & self._mask
        cdef uint64_t at
        cdef Entry* entry
        while True:
            at = self._index[slot]
            if at == 0:
                return NULL
            if (at & 0xFFFFFFFF00000000ULL) == tag:
                entry = <Entry*> (self._arena + ((at & 0xFFFFFFFFULL) - 1) * 8)
                if entry.length == n and memcmp(<unsigned char*> entry + sizeof(Entry), key, n) == 0:
                    return entry
            slot = (slot + 1) & self._mask

    cdef Entry* _match(self, const unsigned char* key, Py_ssize_t n, bint* incremental) noexcept:
        # The entry that serves key[:n] (as a page, or as an incremental root when
        # *incremental is set), or NULL for none.
        cdef Entry* entry = self._find(key, n)
        incremental[0] = False
        if entry != NULL and entry.page >= 0:
            return entry
        # The most specific incremental root: the key itself, each shorter prefix, then "".
        incremental[0] = True
        if not self._has_incremental:
            return NULL
        cdef Py_ssize_t end = self._candidate_end(key, n)
        if end < n:
            entry = self._find(key, end)
        n = end
        while True:
            if entry != NULL and entry.template >= 0:
                return entry
            if n == 0:
                return NULL
            n -= 1
            while n > 0 and key[n] != 47:
                n -= 1
            entry = self._find(key, n)

    cdef inline Py_ssize_t _candidate_end(self, const unsigned char* key, Py_ssize_t n) noexcept:
        # Where the longest prefix of key[:n] that could be an incremental root ends:
        # one no longer than the longest root, of no more segments than the deepest.
        # PERF: hashing every prefix of a 64 KB path of short segments took 220 ms.
        cdef Py_ssize_t end = n, i, slashes = 0
        if end > self._root_bytes:
            end = self._root_bytes
            while end > 0 and key[end] != 47:
                end -= 1
        if self._root_depth == 0:
            return 0
        for i in range(end):
            if key[i] == 47:
                slashes += 1
                if slashes == self._root_depth:
                    return i
        return end

    cdef object _lookup(self, const unsigned char* key, Py_ssize_t n, Py_ssize_t locale):
        cdef bint incremental
        cdef Entry* entry = self._match(key, n, &incremental)
        if entry == NULL:
            return (NOT_FOUND, -1, locale)
        if incremental:
            return (INCREMENTAL, entry.template, locale)
        return (PAGE, entry.page, locale)

    def match(self, key):
        """Match a route key (normalised, no locale) (see the pure twin)."""
        if not isinstance(key, str):
            raise wrong_type("key", "str", key)
        cdef Py_ssize_t n
        cdef const char* data
        cdef bytes encoded
        try:
            data = PyUnicode_AsUTF8AndSize(key, &n)  # PERF: cached, no copy for ASCII
        except UnicodeEncodeError:  # a lone surrogate: encoded as the keys were
            encoded = _key_bytes(key)
            data = encoded
            n = len(encoded)
        cdef bint incremental
        cdef Entry* entry = self._match(<const unsigned char*> data, n, &incremental)
        if entry == NULL:
            return NOT_FOUND_PAIR
        if incremental:
            return (INCREMENTAL, entry.template)
        return (PAGE, entry.page)

    def resolve(self, path):
        """Match a decoded request path: ``(verdict, id, locale_index)`` (see the pure twin)."""
        if not isinstance(path, str):
            raise wrong_type("path", "str", path)
        cdef const unsigned char* data
        cdef Py_ssize_t n, start, end
        cdef int scan
        if PyUnicode_IS_ASCII(path):
            # PERF: the common case, an ASCII path without "//" or "%", is matched in place.
            data = <const unsigned char*> PyUnicode_DATA(path)
            n = PyUnicode_GET_LENGTH(path)
            scan = _scan_ascii(data, n)
            if scan == SCAN_BAD:
                raise BadPath(repr(path))
            if scan == SCAN_CLEAN:
                start = 1 if n > 0 and data[0] == 47 else 0
                end = n - 1 if n > start and data[n - 1] == 47 else n
                return self._localised(data + start, end - start)
        cdef unsigned char stack[STACK_BYTES]
        cdef unsigned char* buffer = stack
        cdef Py_ssize_t size = 4 * PyUnicode_GET_LENGTH(path)
        if size > STACK_BYTES:
            buffer = <unsigned char*> PyMem_Malloc(size)
            if buffer == NULL:
                raise MemoryError()
        try:
            return self._resolve(<str> path, buffer)
        finally:
            if buffer != stack:
                PyMem_Free(buffer)

    cdef object _resolve(self, str path, unsigned char* buffer):
        # Normalise while copying as UTF-8: drop leading, doubled and trailing slashes.
        cdef Py_ssize_t n = 0
        cdef Py_UCS4 ch
        cdef bint slash = False
        for ch in path:
            if ch == 47:
                slash = True
                continue
            if ch < 32 or ch == 127 or ch == 0xFFFD or ch == 37:  # 37: "%", see errors.BadPath
                raise BadPath(repr(path))
            if slash and n > 0:
                buffer[n] = 47
                n += 1
            slash = False
            if ch < 0x80:
                buffer[n] = <unsigned char> ch
                n += 1
            else:
                n += _utf8(<uint32_t> ch, buffer + n)
        return self._localised(buffer, n)

    cdef object _localised(self, const unsigned char* buffer, Py_ssize_t n):
        # Split off the locale segment when i18n is on, then match the rest.
        if not self.locales:
            return self._lookup(buffer, n, -1)
        cdef Py_ssize_t head = 0
        while head < n and buffer[head] != 47:
            head += 1
        cdef Py_ssize_t locale
        cdef bytes tag
        for locale in range(len(self._locale_keys)):
            tag = <bytes> self._locale_keys[locale]
            if len(tag) == head and memcmp(<const unsigned char*> tag, buffer, head) == 0:
                if head < n:
                    head += 1
                return self._lookup(buffer + head, n - head, locale)
        return (NO_LOCALE, -1, -1)
