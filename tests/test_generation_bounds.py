"""Bounds on incremental generation through granian: the store's page bound and generation
slots (ISR-06), and a tiny LMDB map that grows while two workers generate (STORE-01)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.stores.lmdb_store import LMDBStore
from perseus.stores.records import decode_record
from tests.conftest import Server, build_example
from tests.test_request_time import fetch_all, stored_records, version_of

MAX_PAGES = 8
BOUNDED = {"PERSEUS_MAX_GENERATED_PAGES": str(MAX_PAGES), "PERSEUS_MAX_CONCURRENT_GENERATIONS": "1",
           "STRATEGIES_GENERATION_DELAY": "0.05", "PERSEUS_GENERATION_TIMEOUT": "20"}
MAP_SIZE = 64 << 10
TINY_MAP = {"PERSEUS_LMDB_MAP_SIZE": "64K"}
GENERATED = 200


def post_lines(site: Path) -> list[list[str]]:
    """``post <slug> <gen> <generations running at once>`` per generation of a post."""
    log = site / "data" / "generations.log"
    return [line.split() for line in log.read_text().splitlines() if line.startswith("post ")]


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    site = build_example("strategies", tmp_path_factory.mktemp("bounded"), BOUNDED)
    server = Server(site, workers=1, env=BOUNDED)
    yield server, site
    server.close()


def test_past_the_bound_new_pages_are_served_but_not_stored(bounded: tuple[Server, Path]) -> None:
    server, site = bounded
    seeded = stored_records(site)  # the build's revalidating pages count too
    assert seeded < MAX_PAGES
    slugs = [uuid.uuid4().hex for _ in range(6)]
    responses = fetch_all(server, [f"/post/{slug}" for slug in slugs])
    assert [r.status_code for r in responses] == [200] * 6
    assert all(f"<h1>Post {slug}</h1>" in r.text for slug, r in zip(slugs, responses, strict=True))
    assert stored_records(site) == MAX_PAGES
    # One slot: the generations ran one at a time, however many requests came at once.
    assert {line[3] for line in post_lines(site)} == {"1"}
    # A page that was not kept is generated again for each request, and still answers.
    assert all(server.get(f"/post/{slug}").status_code == 200 for slug in slugs)
    kept = MAX_PAGES - seeded
    counts = [sum(line[1] == slug for line in post_lines(site)) for slug in slugs]
    assert sorted(counts) == [1] * kept + [2] * (len(slugs) - kept)
    assert f"PERSEUS_MAX_GENERATED_PAGES={MAX_PAGES} pages" in server.log.read_text()


def test_a_flood_of_random_paths_does_not_grow_the_store(bounded: tuple[Server, Path]) -> None:
    server, site = bounded
    before = stored_records(site)
    data_file = site / "dist" / "mutable" / "data.mdb"
    size = data_file.stat().st_size
    paths = [f"/post/{uuid.uuid4().hex}?cb={n}" for n in range(80)]
    paths += [f"/post/missing-{uuid.uuid4().hex}" for _ in range(40)]
    responses = fetch_all(server, paths)
    assert [r.status_code for r in responses] == [200] * 80 + [404] * 40
    assert stored_records(site) == before
    # Storing them would take a page (4 KiB) each; what the file may gain is lease churn
    # (LMDB copies on write), a few pages whatever the number of paths.
    assert data_file.stat().st_size - size < 64 << 10


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
