"""Which mutable store serves this process: ``Settings.store`` (LMDB unless it names Redis).

``PERSEUS_STORE`` unset or ``lmdb``: LMDB in the mutable location. ``redis://host:port/db``
(or ``rediss://``), or ``redis+cluster://host:port`` (``rediss+cluster://``) for a Redis
Cluster: Redis shared by every machine, with LMDB in the mutable location as this
machine's first-level cache (``perseus.stores.tiered``).
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings
from .lmdb_store import open_lmdb
from .mutable import MutableStore


def check_store_reachable(settings: Settings) -> None:
    """Fail now, naming the store, if the configured remote store does not answer.

    Raises:
        ConfigurationError: redis-py missing.
        StoreError: Redis does not answer.
    """
    url = settings.redis_url
    if url is None:
        return
    from .redis_store import RedisStore

    remote = RedisStore(url, timeout=settings.redis_timeout)
    try:
        remote.ping()
    finally:
        remote.close()


def open_mutable_store(location: Path, settings: Settings) -> MutableStore:
    """The configured store for this process (call it after the fork, once per worker)."""
    local = open_lmdb(location, map_size=settings.lmdb_map_size)
    url = settings.redis_url
    if url is None:
        return local
    from .redis_store import RedisStore
    from .tiered import TieredStore

    remote = RedisStore(url, timeout=settings.redis_timeout)
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
