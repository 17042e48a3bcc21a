"""Page versions in the mutable store: how keys are spelled and records are framed.

Key: ``blake2b("page" NUL locale NUL path)``, 20 bytes, so any path fits LMDB's
511-byte key limit; the path and locale are kept in the record and compared on read.

Record (one value, written in one transaction, so head, body and state always come
from the same version)::

    b"PSR" | format (1 byte) | checksum of what follows (SHA-256's first 16 bytes)
    | meta length (4 bytes, big-endian) | meta (JSON) | html | json | state
    | html brotli | html gzip | json brotli | json gzip

(meta's ``lengths`` gives the length of each part after it, 0 for a compressed copy that
did not pay). Format 1 had no compressed copies; format 2 a blake2b checksum. A record with
another format, a bad checksum, another build id or another path is treated as missing: it
is regenerated rather than served (another format silently: an upgrade is no damage).

Tags (``perseus.State(value, tags=[...])``) are kept in the meta (``"tags"``, absent when
there are none) and in the store's index: ``tag_key(tag)`` names the set of the page keys
of every page that carries it. ``PageRecords.put`` adds a version's page to its tags' sets
before it writes the version, so a set holds at least every page whose current version
carries the tag (an entry whose page no longer carries it is skipped by who reads it).
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from perseus_core.plan import RecordMeta

from ..errors import StoreError, StoreNotFound
from ..http.bodies import BUILT_PAGE_CACHE, JSON_TYPE
from ..settings import DEFAULT_PAGE_CACHE_BYTES
from .decoded import DecodedCache
from .mutable import Lease, MutableStore

MAGIC = b"PSR"
# PERF: 3 checks with SHA-256, which this CPU runs in hardware: 2x blake2b's speed (a 40 KB
# record of a first generation: 50 µs less to write, and to read in another worker).
FORMAT = 3
RECORD_PREFIX = MAGIC + bytes([FORMAT])
HEADER_BYTES = len(RECORD_PREFIX) + 16
_LENGTH = struct.Struct(">I")
_PARTS = 7  # html, json, state and four compressed copies
# A body with its ETag, headers and (brotli, gzip) copies.
VersionBody = tuple[bytes, str, list[tuple[str, str]], tuple[bytes | None, bytes | None]]
log = logging.getLogger("perseus.store")


class NotCached(Exception):
    """``PageRecords.cached``: this machine has no copy of the page; the network store may."""


def page_key(locale: str, path: str) -> bytes:
    """The store key of the page at ``path`` (no locale, no slashes around) in ``locale``."""
    return hashlib.blake2b(f"page\0{locale}\0{path}".encode(), digest_size=20).digest()


def tag_key(tag: str) -> bytes:
    """The name of the store's index set holding the page keys of the pages tagged ``tag``."""
    return hashlib.blake2b(f"tag\0{tag}".encode(), digest_size=16).digest()


@dataclass(frozen=True)
class PageVersion:
    """One generated version of a page: everything its responses need.

    ``html`` and ``json`` are empty for a template with request state, whose pages
    are rendered per request from ``state``. ``copies`` are the compressed copies of
    html (brotli, gzip) and json (brotli, gzip), each empty where it did not pay.
    """

    path: str
    locale: str
    template: str
    build_id: str
    generation: str
    generated_at: float
    due_at: float
    html: bytes
    json: bytes
    state: bytes
    html_etag: str
    json_etag: str
    headers: list[tuple[str, str]]
    tags: tuple[str, ...] = ()
    copies: tuple[bytes, bytes, bytes, bytes] = (b"", b"", b"", b"")
    # PERF: what every request for this version needs, computed once.
    meta: RecordMeta = field(init=False, compare=False, repr=False)
    # (body, ETag, headers as built, (brotli, gzip) copies or None) of its HTML and of its
    # JSON, in the engine's ``Form.index`` order.
    forms: tuple[VersionBody, VersionBody] = field(init=False, compare=False, repr=False)
    # PERF: the answers made for this version (by form and cache status), reused: never
    # changed once made.
    answers: dict[Any, Any] = field(init=False, compare=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", RecordMeta(self.generated_at, self.due_at))
        # The same validators and lifetime as built pages: browsers revalidate with the ETag.
        json_headers = [("content-type", JSON_TYPE), ("cache-control", BUILT_PAGE_CACHE)]
        html_br, html_gz, json_br, json_gz = (copy or None for copy in self.copies)
        object.__setattr__(self, "forms", ((self.html, self.html_etag, self.headers, (html_br, html_gz)),
                                           (self.json, self.json_etag, json_headers, (json_br, json_gz))))

    def build_state(self) -> Any:
        """The state this version was rendered from (the build half, for request state)."""
        return orjson.loads(self.state)


def version_bytes(version: PageVersion) -> int:
    """The bytes of ``version``'s bodies, state and compressed copies: what keeping it costs."""
    return len(version.html) + len(version.json) + len(version.state) + sum(map(len, version.copies))


def encode_record(version: PageVersion) -> bytes:
    """Frame ``version`` as one store value."""
    fields: dict[str, Any] = {
        "path": version.path, "locale": version.locale, "template": version.template,
        "build": version.build_id, "gen": version.generation, "at": version.generated_at,
        "due": version.due_at, "etags": [version.html_etag, version.json_etag],
        "headers": version.headers, "lengths": [len(part) for part in _parts(version)],
    }
    if version.tags:
        fields["tags"] = version.tags
    meta = orjson.dumps(fields)
    parts = (_LENGTH.pack(len(meta)), meta, *_parts(version))
    # PERF: hashed part by part, joined once (a first generation's record is ~40 KB).
    checksum = hashlib.sha256()
    for part in parts:
        checksum.update(part)
    return b"".join((RECORD_PREFIX, checksum.digest()[:16], *parts))


def _checksum(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()[:16]


def _parts(version: PageVersion) -> tuple[bytes, ...]:
    """What follows a record's meta, in order."""
    return (version.html, version.json, version.state, *version.copies)


def record_header(value: bytes) -> bytes | None:
    """What tells one version of a record from another: its header (format and checksum of
    the rest), or None for a value that is not a record of this format."""
    return value[:HEADER_BYTES] if len(value) > HEADER_BYTES and value.startswith(RECORD_PREFIX) else None


def decode_record(value: bytes) -> PageVersion | None:
    """The version framed in ``value``, or None when it is damaged or of another format."""
    if len(value) < HEADER_BYTES + _LENGTH.size or value[:3] != MAGIC or value[3] != FORMAT:
        return None
    body = value[HEADER_BYTES:]
    if _checksum(body) != value[4:HEADER_BYTES]:
        return None
    try:
        (meta_length,) = _LENGTH.unpack_from(body)
        start = _LENGTH.size + meta_length
        meta: dict[str, Any] = orjson.loads(body[_LENGTH.size:start])
        lengths = meta["lengths"]
        if len(lengths) != _PARTS or start + sum(lengths) != len(body):
            return None
        parts = []
        for length in lengths:
            parts.append(body[start:start + length])
            start += length
        html, json, state, *copies = parts
        return PageVersion(
            meta["path"], meta["locale"], meta["template"], meta["build"], meta["gen"],
            float(meta["at"]), float(meta["due"]), html, json, state,
            meta["etags"][0], meta["etags"][1], [(str(k), str(v)) for k, v in meta["headers"]],
            tuple(str(tag) for tag in meta.get("tags", ())), (copies[0], copies[1], copies[2], copies[3]),
        )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None


class PageRecords:
    """Page versions of one build in a ``MutableStore``, decoded once per version.

    PERF: a read compares the record's header (format and checksum) with the version
    decoded last time, in place where the store can (LMDB), else on a copy of the value;
    only a new version is copied out, verified and decoded. The decoded versions are kept
    up to ``cache_bytes`` of their bodies (``PERSEUS_PAGE_CACHE_BYTES``).
    """

    def __init__(self, store: MutableStore, build_id: str,
                 cache_bytes: int = DEFAULT_PAGE_CACHE_BYTES) -> None:
        self.store = store
        self.build_id = build_id
        self.decoded: DecodedCache[PageVersion] = DecodedCache(cache_bytes)
        # PERF: a store that can say "missing" without raising (LMDB) is asked that way, and
        # one that can compare a record's header in place (LMDB) copies out only a new version.
        self._read_or_none: Callable[[bytes], bytes | None] = getattr(store, "read_or_none", self._read)
        self._read_unless: Callable[[bytes, bytes], bytes | None] | None = getattr(store, "read_unless", None)

    def _read(self, key: bytes) -> bytes | None:
        try:
            return self.store.read(key)
        except StoreNotFound:
            return None

    def get(self, locale: str, path: str, key: bytes | None = None) -> PageVersion | None:
        """The current version of a page, or None if none is stored for this build.

        ``key`` is ``page_key(locale, path)`` when the caller has it already.
        """
        if key is None:
            key = page_key(locale, path)
        known = self.decoded.latest(key) if self._read_unless is not None else None
        if known is not None:
            assert self._read_unless is not None
            header, version = known
            value = self._read_unless(key, header)
            if value is header:  # PERF: the version decoded last time, not copied out again
                return version
        else:
            value = self._read_or_none(key)
        if value is None:
            self.decoded.discard(key)
            return None
        return self._version(key, value, locale, path)

    def cached(self, locale: str, path: str, key: bytes) -> PageVersion | None:
        """``get`` from this machine's copy of a networked store, with no network trip.

        Raises:
            NotCached: this machine holds no copy (``get`` it, off the event loop).
        """
        value = self.store.read_local(key)  # type: ignore[attr-defined]
        if value is None:
            raise NotCached(path)
        return self._version(key, value, locale, path)

    def _version(self, key: bytes, value: bytes, locale: str, path: str) -> PageVersion | None:
        checksum = value[:HEADER_BYTES]  # the record's header: its format and checksum
        cached = self.decoded.get(key, checksum)
        if cached is not None:
            return cached
        if value[:3] == MAGIC and value[3:4] != RECORD_PREFIX[3:]:
            return None  # another format (an older perseus's): regenerated, not damaged
        version = decode_record(value)
        if version is None or version.path != path or version.locale != locale:
            log.warning("ignoring a damaged record for page '/%s' (%s)", path, locale)
            return None
        if version.build_id != self.build_id:
            return None  # written for another build: regenerated, never served
        self.decoded.put(key, checksum, version, version_bytes(version))
        return version

    def claim(self, locale: str, path: str, key: bytes, owner: str, ttl: float,
              now: float) -> tuple[PageVersion | None, Lease]:
        """The page's current version if one is stored, else the lease to generate it
        (``acquire_lease(key, owner, ttl, now)``).

        A version found after the lease was taken is returned with the lease, which the
        caller then releases. PERF: one transaction where the store can (LMDB).
        """
        lease_unless_present = getattr(self.store, "lease_unless_present", None)
        if lease_unless_present is not None:
            value, lease = lease_unless_present(key, owner, ttl, now)
            if value is None:
                return None, lease
            found = self._version(key, value, locale, path)
            if found is not None:
                return found, lease
            # Another build's record (or a damaged one): generated again, as if missing.
        else:
            found = self.get(locale, path, key)
            if found is not None:
                return found, Lease(False, 0.0)
        lease = self.store.acquire_lease(key, owner, ttl, now)
        if not lease.acquired:
            return None, lease
        try:  # NOTE: another worker may have stored it between the two calls
            return self.get(locale, path, key), lease
        except StoreError:
            return None, lease  # the lease is ours: generated, and stored if the store allows

    def put_releasing(self, version: PageVersion, owner: str, max_pages: int) -> tuple[bool, bool]:
        """``put(version)`` unless the store holds ``max_pages`` values already: whether it
        was stored, and whether the page's lease was let go of in the same transaction
        (``release_lease(key, owner)``; else the caller releases it).

        PERF: one transaction where the store can (LMDB), tags aside.
        """
        key = page_key(version.locale, version.path)
        write_releasing = getattr(self.store, "write_releasing", None)
        if write_releasing is None:
            if self.store.count() >= max_pages:
                return False, False
            self.put(version)
            return True, False
        if version.tags:
            self.store.index_add([tag_key(tag) for tag in version.tags], key)
        stored: bool = write_releasing(key, encode_record(version), owner, max_pages)
        return stored, True

    def delete(self, locale: str, path: str) -> None:
        """Remove the page's stored version, if any."""
        key = page_key(locale, path)
        self.store.delete(key)
        self.decoded.discard(key)

    def put(self, version: PageVersion) -> None:
        """Store ``version`` as its page's current version (one atomic write), after adding
        its page to the index set of each of its tags."""
        key = page_key(version.locale, version.path)
        if version.tags:
            self.store.index_add([tag_key(tag) for tag in version.tags], key)
        self.store.write(key, encode_record(version))
