"""Which build each running ``perseus serve`` serves: one small file per server, so that
``perseus revalidate`` can tell when the marks it makes would never reach a server.

A rebuild swaps in a new ``dist/`` with a new mutable store (``dist/mutable``), seeded for
the new build. A server started before it keeps serving the old build from the old store
(the rebuild took it out of ``dist/``), so a mark in the new store is never seen, and a
shared ``PERSEUS_MUTABLE_DIR`` holds records of the new build the old server ignores.

The file lives where rebuilds leave it: beside ``dist/`` (``.dist.servers/<pid>.json``), or
inside ``PERSEUS_MUTABLE_DIR`` when the store is there. It names the server's process (with
its start time, so a reused pid is not taken for it), its build and its store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..stores.immutable import mutable_location
from ..stores.mutable import process_is_alive, process_start_time

SERVERS_IN_STORE = ".perseus-servers"


@dataclass(frozen=True)
class ServingRecord:
    """One running server of a site: its main process, the build it serves, its store."""

    pid: int
    build_id: str
    store: str
    started: str  # the process's start time ("" where it cannot be read)


def servers_dir(dist: Path, mutable_dir: Path | None) -> Path:
    """Where the servers of ``dist`` (or of the store in ``mutable_dir``) are recorded."""
    if mutable_dir is not None:
        return mutable_dir / SERVERS_IN_STORE
    return dist.parent / f".{dist.name}.servers"


@contextmanager
def serving(dist: Path, mutable_dir: Path | None, build_id: str) -> Iterator[str | None]:
    """Record this process as serving ``build_id`` of ``dist`` while the block runs.

    Yields None, or why the record could not be written (the server runs all the same;
    ``perseus revalidate`` then cannot warn about it).
    """
    folder = servers_dir(dist, mutable_dir)
    pid = os.getpid()
    record = ServingRecord(pid, build_id, str(mutable_location(dist, mutable_dir)), process_start_time(pid))
    path = folder / f"{pid}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for other in _records(folder):
            if not _alive(other):
                (folder / f"{other.pid}.json").unlink(missing_ok=True)  # a server killed -9
        partial = folder / f".{pid}.json.tmp"
        partial.write_bytes(orjson.dumps(record.__dict__))
        os.replace(partial, path)
    except OSError as error:
        yield f"could not record this server in {folder} ({error.strerror or error})"
        return
    try:
        yield None
    finally:
        path.unlink(missing_ok=True)
        try:
            folder.rmdir()  # the last server of the site leaves nothing behind
        except OSError:
            pass  # other servers still run


def running_servers(dist: Path, mutable_dir: Path | None) -> list[ServingRecord]:
    """The servers of ``dist`` (or of the store in ``mutable_dir``) still running, by pid."""
    return sorted((r for r in _records(servers_dir(dist, mutable_dir)) if _alive(r)), key=lambda r: r.pid)


def _records(folder: Path) -> Iterator[ServingRecord]:
    for path in folder.glob("*.json"):
        try:
            yield ServingRecord(**orjson.loads(path.read_bytes()))
        except (OSError, orjson.JSONDecodeError, TypeError):
            continue  # removed meanwhile, or not one of ours


def _alive(record: ServingRecord) -> bool:
    return process_is_alive(record.pid, record.started)
