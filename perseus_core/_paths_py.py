"""Pure-Python twin of ``_paths_c``: request-path decoding, normalisation and store keys."""

from __future__ import annotations

import hashlib
import re

from .errors import BadPath

MAX_KEY_BYTES = 511
"""LMDB's key limit: longer store keys are replaced by a hash."""

PLAIN_KEY = 0x6B  # b"k": locale length, locale, path, all readable back
HASHED_KEY = 0x68  # b"h": a BLAKE2b digest of the plain key (the record keeps the path)

_HEX_DIGITS = "0123456789abcdefABCDEF"
# Every two-digit escape, in any case, to its byte: one dict lookup per escape.
_ESCAPES = {(a + b).encode(): int(a + b, 16) for a in _HEX_DIGITS for b in _HEX_DIGITS}
# Control characters, DEL, and U+FFFD (what a server puts where it met invalid UTF-8).
_INVALID = re.compile("[\x00-\x1f\x7f\ufffd]")
# RFC 3986 unreserved characters plus "/": everything else is percent-encoded.
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def decode_path(raw: bytes) -> str:
    """Percent-decode a raw request path exactly once, strictly.

    ``%2F`` becomes ``/`` like any escape, so this agrees with granian's RSGI
    ``path`` (REQ-03: an encoded slash routes one way on both adapters).

    Raises:
        BadPath: a malformed escape (``%zz``, a trailing ``%``) or invalid UTF-8.
    """
    if b"%" in raw:
        parts = raw.split(b"%")
        out = bytearray(parts[0])
        for part in parts[1:]:
            byte = _ESCAPES.get(part[:2], -1)
            if byte < 0:
                raise BadPath(repr(raw))
            out.append(byte)
            out += part[2:]
        raw = bytes(out)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath(repr(raw)) from None


def encode_path(path: str) -> bytes:
    """Percent-encode a path for a URL: ``decode_path(encode_path(p)) == p``."""
    data = path.encode("utf-8")
    if all(byte in _SAFE for byte in data):
        return data
    return b"".join(bytes((byte,)) if byte in _SAFE else b"%%%02X" % byte for byte in data)


def normalize_path(path: str) -> str:
    """Turn a decoded request path into a render-config key: ``/post//a/`` -> ``post/a``.

    Raises:
        BadPath: the path holds a control character or U+FFFD.
    """
    if _INVALID.search(path) is not None:
        raise BadPath(repr(path))
    if "//" in path:
        return "/".join([segment for segment in path.split("/") if segment])
    # NOTE: without "//" there is at most one slash at either end.
    return path.strip("/")


def encode_key(locale: str, path: str) -> bytes:
    """The reversible store key of a page: ``decode_key(encode_key(l, p)) == (l, p)``.

    Raises:
        ValueError: the locale is longer than 255 bytes in UTF-8.
    """
    tag = locale.encode("utf-8")
    if len(tag) > 255:
        raise ValueError(f"locale too long for a store key: {locale[:40]!r}")
    return bytes((PLAIN_KEY, len(tag))) + tag + path.encode("utf-8")


def decode_key(key: bytes) -> tuple[str, str]:
    """``(locale, path)`` back from ``encode_key``.

    Raises:
        ValueError: a hashed key (its path is kept in the record) or bytes that
            ``encode_key`` does not produce.
    """
    if len(key) < 2 or key[0] != PLAIN_KEY or len(key) < 2 + key[1]:
        raise ValueError("not a plain store key (hashed keys keep their path in the record)")
    end = 2 + key[1]
    try:
        return key[2:end].decode("utf-8"), key[end:].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not a plain store key: invalid UTF-8") from None


def hash_key(key: bytes) -> bytes:
    """The fixed-length (33-byte) key that stands for a plain key too long for LMDB."""
    return bytes((HASHED_KEY,)) + hashlib.blake2b(key, digest_size=32).digest()


def store_key(locale: str, path: str) -> bytes:
    """The LMDB key of a page: ``encode_key`` when it fits in 511 bytes, else its hash."""
    key = encode_key(locale, path)
    return key if len(key) <= MAX_KEY_BYTES else hash_key(key)
