"""Which mutable store serves this process: ``PERSEUS_STORE`` (LMDB unless it names Redis).

``PERSEUS_STORE`` unset or ``lmdb``: LMDB in the mutable location. ``redis://host:port/db``
(or ``rediss://``): Redis shared by every machine, with LMDB in the mutable location as
this machine's first-level cache (``perseus.stores.tiered``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigurationError
from .lmdb_store import open_lmdb
from .mutable import MutableStore

_REDIS_SCHEMES = ("redis://", "rediss://")


def redis_timeout() -> float:
    """Seconds a Redis call may take: ``PERSEUS_REDIS_TIMEOUT`` or the store's default."""
    from .redis_store import DEFAULT_TIMEOUT

    value = os.environ.get("PERSEUS_REDIS_TIMEOUT", "").strip()
    try:
        timeout = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        timeout = -1.0
    if not 0 < timeout < float("inf"):
        raise ConfigurationError(f"PERSEUS_REDIS_TIMEOUT must be a positive number of seconds, got {value!r}")
    return timeout


def store_url() -> str | None:
    """The Redis URL ``PERSEUS_STORE`` names, or None for LMDB.

    Raises:
        ConfigurationError: ``PERSEUS_STORE`` names neither.
    """
    value = os.environ.get("PERSEUS_STORE", "").strip()
    if value in ("", "lmdb"):
        return None
    if value.startswith(_REDIS_SCHEMES):
        return value
    shown = value.split("://", 1)[0] + "://..." if "://" in value else repr(value)
    raise ConfigurationError(f"PERSEUS_STORE must be 'lmdb' or a redis://host:port/db URL, got {shown}")


def check_store_reachable() -> None:
    """Fail now, naming the store, if the configured remote store does not answer.

    Raises:
        ConfigurationError: bad ``PERSEUS_STORE`` or redis-py missing.
        StoreError: Redis does not answer.
    """
    url = store_url()
    if url is None:
        return
    from .redis_store import RedisStore

    remote = RedisStore(url, timeout=redis_timeout())
    try:
        remote.ping()
    finally:
        remote.close()


def open_mutable_store(location: Path) -> MutableStore:
    """The configured store for this process (call it after the fork, once per worker)."""
    local = open_lmdb(location)
    url = store_url()
    if url is None:
        return local
    from .redis_store import RedisStore
    from .tiered import TieredStore

    remote = RedisStore(url, timeout=redis_timeout())
    try:
        remote.ping()
    except Exception:
        remote.close()
        raise
    tiered = TieredStore(local, remote)
    tiered.start()
    # NOTE: once subscribed, the local cache has been cleared of what this machine may
    # have missed; waiting (bounded) keeps the first requests from serving such a copy.
    tiered.subscribed.wait(remote.timeout)
    return tiered
