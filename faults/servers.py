"""Serving the faults site for a scenario, and looking at the server's processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.procstat import process_tree, rss_bytes
from tests.conftest import Server


@contextmanager
def serving(project: Path, **options: Any) -> Iterator[Server]:
    """``perseus serve`` of ``project`` (``tests.conftest.Server`` options), stopped afterwards."""
    server = Server(project, **options)
    try:
        yield server
    finally:
        server.close()


def workers_of(server: Server) -> list[int]:
    """The pids of the server's worker processes (the children of granian's main process)."""
    pid = server.process.pid
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def server_rss(server: Server) -> int:
    """Resident memory of the server's whole process tree."""
    return rss_bytes(server.process.pid)


def wait_for(condition: Callable[[], bool], timeout: float, pause: float = 0.05) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(pause)
    return condition()


def server_anonymous_rss(server: Server) -> int:
    """Anonymous resident memory of the server's tree: the heap, without the pages of mapped
    files (the LMDB map grows with the store, which is not a leak)."""
    total = 0
    for pid in process_tree(server.process.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("RssAnon:"):
                total += int(line.split()[1]) * 1024
    return total
