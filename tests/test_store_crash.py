"""kill -9 during a stream of regenerations (STORE-06, ISR-08): every committed record is intact."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import httpx

from perseus.stores.lmdb_store import LMDBStore
from perseus.stores.records import decode_record, page_key
from tests.conftest import Server, copy_example, perseus, run_in_thread

ENV = {"STRATEGIES_CLOCK_INTERVAL": "1s", "PERSEUS_RETRY_BACKOFF": "0.1"}



async def _stream(url: str, seconds: float) -> dict[str, bytes]:
    """Generate new pages and regenerate due ones until the server dies; return the 200s seen."""
    committed: dict[str, bytes] = {}
    stop = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            slug = uuid.uuid4().hex
            try:
                response = await client.get(f"/post/{slug}")
                await client.get("/clock")
                await client.get("/flaky")
            except httpx.HTTPError:
                return  # the server was killed
            if response.status_code == 200:
                committed[f"post/{slug}"] = response.content

    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=5, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(8)))
    return committed


def _kill_during_stream(server: Server, seconds: float) -> dict[str, bytes]:
    async def run() -> dict[str, bytes]:
        stream = asyncio.create_task(_stream(server.url, seconds + 5))
        await asyncio.sleep(seconds)
        os.killpg(server.process.pid, 9)  # the whole process group, mid-write
        return await stream
    committed = run_in_thread(run)
    server.process.wait(10)
    server.close()
    return committed


def test_kill_9_during_regenerations_loses_no_committed_record(tmp_path: Path) -> None:
    project = copy_example("strategies", tmp_path)
    perseus("build", cwd=project, env=ENV)
    store_path = project / "dist" / "mutable"
    committed: dict[str, bytes] = {}
    for _ in range(2):
        committed.update(_kill_during_stream(Server(project, workers=2, env=ENV), 1.5))
        store = LMDBStore(str(store_path))  # opens with no recovery step
        try:
            records = [decode_record(value) for _, value in store.items()]
            assert records and all(record is not None for record in records), "a damaged record"
            for path in committed:
                assert decode_record(store.read(page_key("xx-XX", path))) is not None, path
        finally:
            store.close()
    assert len(committed) > 10
    server = Server(project, workers=2, env=ENV)
    try:
        for path, body in list(committed.items())[:20]:
            assert server.get("/" + path).content == body  # the same version, not a regeneration
        fresh = server.get(f"/post/{uuid.uuid4().hex}")  # and the store takes writes at once
        assert fresh.status_code == 200
    finally:
        server.close()
