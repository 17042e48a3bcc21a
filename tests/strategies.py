"""Helpers for examples/strategies, served by granian (``Server``) or in-process (``TestClient``)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx

from perseus.stores.lmdb_store import LMDBStore, lmdb_session
from perseus.testing import TestClient, TestResponse
from tests.conftest import Server, run_in_thread

ENV = {"STRATEGIES_CLOCK_INTERVAL": "3s", "PERSEUS_RETRY_BACKOFF": "0.3",
       "STRATEGIES_GENERATION_DELAY": "0.3", "PERSEUS_GENERATION_TIMEOUT": "2"}
INTERVAL = 3.0


Site = Server | TestClient


def generations(site: Path, template: str, path: str = "-") -> list[str]:
    log = site / "data" / "generations.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split()[2] for line in lines if line.split()[:2] == [template, path]]


def stored_records(site: Path) -> int:
    """Records in the site's LMDB store, opened read-only (a server process has it open)."""
    store = LMDBStore(str(site / "dist" / "mutable"), readonly=True)
    try:
        return store.count()
    finally:
        store.close()


def stored_in_process(site: Path) -> int:
    """Records in the site's LMDB store, through this process's environment (a ``TestClient``'s)."""
    with lmdb_session(site / "dist" / "mutable") as store:
        return store.count()


def version_of(response: httpx.Response | TestResponse) -> str:
    """The generation id of a versioned page, checking its parts agree (one version): head,
    body and state of its JSON; head and body of its HTML, which embeds no state."""
    if response.headers["content-type"] == "application/json":
        data = response.json()
        head = re.search(r'<meta name="gen" content="([^"]+)">', data["head"])
        body = re.search(r'<p id="gen">([^<]+)</p>', data["content"])
        state = data["state"]["gen"]
    else:
        head = re.search(r'<meta name="gen" content="([^"]+)">', response.text)
        body = re.search(r'<p id="gen">([^<]+)</p>', response.text)
        assert '<script id="__perseus_state"' not in response.text  # nothing on the page reads it
        state = body.group(1) if body else None
    assert head and body, response.text
    assert head.group(1) == body.group(1) == state, "head, body and state come from different versions"
    return str(state)


def json_path(path: str) -> str:
    """The JSON endpoint's URL of page ``path`` (a site without locales)."""
    return f"/.perseus/page/xx-XX{path}.json" if path != "/" else "/.perseus/page/xx-XX/.json"


def fetch_all(server: Site, paths: list[str], headers: dict[str, str] | None = None) -> list[Any]:
    """GET every path at once; on a server each on a fresh connection, so every worker answers."""
    if isinstance(server, TestClient):
        return server.get_many(paths, headers=headers)

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, timeout=20, limits=limits) as client:
            return list(await asyncio.gather(*(client.get(p, headers=headers) for p in paths)))
    return run_in_thread(run)


def wait_for_new_version(server: Site, path: str, old: str, timeout: float = 6) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A fresh connection each time on a server: whichever worker answers.
        current = version_of(httpx.get(server.url + path) if isinstance(server, Server) else server.get(path))
        if current != old:
            return current
        time.sleep(0.05)
    log = server.log.read_text() if isinstance(server, Server) else "(in-process: see the captured log)"
    raise AssertionError(f"{path} still serves {old} after {timeout}s; server log:\n{log}")


def wait_until_due(server: Site, path: str) -> str:
    """Sleep until the page's current version is due, without starting a regeneration; return it."""
    for _ in range(3):
        response = server.get(json_path(path))
        due_at = response.json()["state"]["at"] + INTERVAL
        if due_at > time.time():
            time.sleep(due_at + 0.1 - time.time())
            return version_of(response)
        wait_for_new_version(server, path, version_of(response))  # that GET started one: let it finish
    raise AssertionError(f"{path} never settled on a fresh version")
