# Shared by the Cython kernels that validate paths (inline: no module of its own at run time).

cdef inline int hex_owed(Py_UCS4 ch, int owed) noexcept:
    # The hex digits still owed to the last "%" once ``ch`` is read (``owed`` before it),
    # or -1: a "%" not followed by two hex digits, what granian's RSGI leaves of a
    # malformed escape.
    if owed:
        if (48 <= ch <= 57) or (65 <= ch <= 70) or (97 <= ch <= 102):
            return owed - 1
        return -1
    return 2 if ch == 37 else 0
