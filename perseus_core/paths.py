"""Request paths and store keys: strict decoding, normalisation, and LMDB keys.

- ``decode_path(raw)``: percent-decode a raw request path once, strictly
  (``BadPath`` for ``%zz`` or invalid UTF-8); ``encode_path`` is its inverse.
- ``normalize_path(path)``: ``/post//a/`` -> ``post/a`` (``BadPath`` for control
  characters and U+FFFD).
- ``encode_key(locale, path)`` / ``decode_key(key)``: the reversible byte key of a
  page; ``store_key`` is the LMDB key, hashed to 33 bytes when the plain key would
  pass LMDB's 511-byte limit (the record must then keep the path to detect collisions).

Selects the Cython kernel ``_paths_c``, or its pure twin ``_paths_py`` when it is
absent or disabled.
"""

from __future__ import annotations

from . import use_compiled
from ._paths_py import (  # replaced below by the compiled twin's
    MAX_KEY_BYTES,
    decode_key,
    decode_path,
    encode_key,
    encode_path,
    hash_key,
    normalize_path,
    store_key,
)
from .errors import BadPath

__all__ = ["COMPILED", "MAX_KEY_BYTES", "BadPath", "decode_key", "decode_path", "encode_key", "encode_path",
           "hash_key", "normalize_path", "store_key"]
COMPILED = use_compiled(globals(), "paths", __all__)
