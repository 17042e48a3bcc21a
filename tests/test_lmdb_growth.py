"""A tiny LMDB map that grows while two granian workers generate pages (STORE-01).

NOTE: apart from test_generation_bounds.py, whose in-process client sets its bounds in this
process's environment for as long as its module runs: a server started then would inherit them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.stores.lmdb_store import LMDBStore
from perseus.stores.records import decode_record
from tests.conftest import Server, build_example
from tests.strategies import fetch_all, stored_records, version_of

MAP_SIZE = 64 << 10
TINY_MAP = {"PERSEUS_LMDB_MAP_SIZE": "64K"}
GENERATED = 200


@pytest.fixture(scope="module")
def tiny_map(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    site = build_example("strategies", tmp_path_factory.mktemp("tiny-map"), TINY_MAP)
    server = Server(site, workers=2, env=TINY_MAP)
    yield server, site
    server.close()


def test_a_tiny_map_grows_while_two_workers_generate_pages(tiny_map: tuple[Server, Path]) -> None:
    """STORE-01: every page answers 200 and reads back whole after the map grew several times."""
    server, site = tiny_map
    seeded = stored_records(site)
    slugs = [uuid.uuid4().hex for _ in range(GENERATED)]
    first: dict[str, str] = {}
    for batch in range(0, GENERATED, 20):  # fresh connections: both workers write
        chunk = slugs[batch:batch + 20]
        for slug, response in zip(chunk, fetch_all(server, [f"/post/{s}" for s in chunk]), strict=True):
            assert response.status_code == 200, server.log.read_text()
            first[slug] = version_of(response)
    for batch in range(0, GENERATED, 50):
        chunk = slugs[batch:batch + 50]
        again = fetch_all(server, [f"/.perseus/page/xx-XX/post/{s}.json" for s in chunk])
        assert [version_of(r) for r in again] == [first[s] for s in chunk]  # stored, not regenerated
    server.close()
    store = LMDBStore(str(site / "dist" / "mutable"), readonly=True)
    try:
        records = [decode_record(value) for _, value in store.items()]
        used = (store.env.info()["last_pgno"] + 1) * store.env.stat()["psize"]
    finally:
        store.close()
    assert len(records) == seeded + GENERATED and None not in records
    assert {r.path for r in records if r is not None} >= {f"post/{slug}" for slug in slugs}
    assert used > 8 * MAP_SIZE, used  # the 64 KiB map doubled at least three times ...
    log = server.log.read_text()
    assert log.count("was full: grown to") >= 3, log  # ... each time by one worker
    assert "Traceback" not in log
