"""Generating a page version: build state, then the prerendered page, framed for the mutable store.

Shared by the build (which seeds the store), revalidation and incremental generation.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, NamedTuple

from perseus_core.plan import renders_per_request

from .._state import encode_state
from ..context import StateInfo
from ..errors import StoreError
from ..http.bodies import RenderedPage
from ..settings import Settings
from ..stores.immutable import PageCopies, page_copies
from ..stores.lmdb_store import LMDBStore, open_lmdb
from ..stores.records import PageRecords, PageVersion
from ..tags import NO_TAGS, split_state
from ..template import Template
from .calls import call_user
from .render import PageRenderer
from .strategies import page_flags

log = logging.getLogger("perseus.generate")
_generations = itertools.count(1)
NO_COPIES: PageCopies = (None, None, None, None)


class BuiltPage(NamedTuple):
    """A page's encoded state, its rendered bodies unless it is rendered per request, and
    the tags its state function gave it."""

    state: bytes
    page: RenderedPage | None
    tags: tuple[str, ...] = ()


def version_of(template: Template, path: str, locale: str, build_id: str, built: BuiltPage,
               now: float, copies: PageCopies | None = None) -> PageVersion:
    """The store record of ``built``, due ``revalidate_after`` from ``now``.

    ``copies`` are the page's compressed copies (``page_copies``) when the caller made them
    already (the build, which writes them into dist/ too)."""
    due_at = now + template.revalidate_after if template.revalidate_after is not None else 0.0
    page = built.page
    generation = f"{os.getpid()}-{next(_generations)}-{time.monotonic_ns()}"
    # Compressed once, served compressed to every client that takes it.
    if copies is None:
        copies = page_copies(page) if page else (None, None, None, None)
    html_br, html_gz, json_br, json_gz = copies
    return PageVersion(
        template.full_path(path), locale, template.name, build_id, generation, now, due_at,
        page.html if page else b"", page.json if page else b"", built.state,
        page.html_etag if page else "", page.json_etag if page else "",
        page.headers if page else [], built.tags,
        (html_br or b"", html_gz or b"", json_br or b"", json_gz or b""),
    )


async def generate_version(template: Template, path: str, locale: str, extra: Any,
                           renderer: PageRenderer, pool: Executor, build_id: str,
                           compress: bool = True) -> PageVersion:
    """Run ``template``'s build state for ``path`` and render it, as a new version.

    ``compress=False`` (a first generation, which a visitor waits on) stores no compressed
    copies: each worker compresses the version when a client first takes a coding
    (``pages.LazyCopies``), only the coding asked for.

    Raises whatever the state function or view raises (``NotFound`` included), and
    ``TagError`` for bad tags.
    """
    state, tags = None, NO_TAGS
    if template.build_state is not None:
        # PERF: a template declared blocking=False has its sync build state called inline,
        # as its request state is: no thread hop (~50 µs, and far more on a loaded core).
        state, tags = split_state(await call_user(template.build_state, StateInfo(path, locale, extra),
                                                  pool=pool if template.blocking else None))
    if renders_per_request(page_flags(renderer.app, template)):  # its build state is what is kept
        return version_of(template, path, locale, build_id, BuiltPage(encode_state(state), None, tags),
                          time.time())
    # PERF: the state encoded once, for the page and for its record.
    parts = renderer.parts(template, path, locale, state)
    page = renderer.assemble(template, locale, *parts)
    # PERF: compressing both bodies both ways took 1.2 ms of a 20 KB page's 3.3 ms first
    # generation (bench/generation_profile.py), for clients that mostly take one coding.
    return version_of(template, path, locale, build_id, BuiltPage(parts[2], page, tags), time.time(),
                      None if compress else NO_COPIES)


def seed_mutable_store(location: Path, versions: Sequence[PageVersion], settings: Settings) -> None:
    """Write the build's revalidating pages into the store at ``location``, then close it.

    With ``PERSEUS_STORE=redis://...`` they also go to Redis, under this build's id, each
    unless Redis holds a newer version of its page (a later build's, or one regenerated or
    marked since this build); the LMDB at ``location``, this machine's cache, gets what
    Redis holds. So a page's first hit needs no network trip, and ``perseus revalidate``
    finds it on any machine.

    NOTE: the build runs in the process that later starts granian: the environment
    must be closed before the workers fork (each opens its own).

    Raises:
        StoreError: the LMDB cannot be written, or Redis does not answer.
    """
    try:
        store = open_lmdb(location, map_size=settings.lmdb_map_size)
    except StoreError as exc:
        raise StoreError(
            f"{exc}; revalidating and incremental pages need a writable mutable store:"
            " set PERSEUS_MUTABLE_DIR to a writable directory"
        ) from None
    try:
        if settings.redis_url is not None and versions:
            _seed_redis(store, settings.redis_url, settings.redis_timeout, versions)
        else:
            records = PageRecords(store, "")
            for version in versions:
                records.put(version)
    finally:
        store.close()


def _seed_redis(local: LMDBStore, url: str, timeout: float, versions: Sequence[PageVersion]) -> None:
    # NOTE: imported here: redis-py is needed only with PERSEUS_STORE=redis://...
    from ..stores.redis_store import RedisStore
    from ..stores.tiered import seed_shared

    try:
        remote = RedisStore(url, timeout=timeout)
        try:
            remote.ping()  # NOTE: also refuses redis:// naming a cluster node, with the right scheme
            stored = seed_shared(local, remote, versions)
        finally:
            remote.close()
    except StoreError as exc:
        reason = str(exc).rstrip(".")
        raise StoreError(f"{reason}; the build stores its revalidating pages in PERSEUS_STORE: start Redis,"
                         " or build without PERSEUS_STORE (then each machine has them in its own LMDB only,"
                         " and `perseus revalidate` cannot mark them)") from None
    if stored < len(versions):
        log.info("%d of %d revalidating pages kept the newer version Redis holds",
                 len(versions) - stored, len(versions))
