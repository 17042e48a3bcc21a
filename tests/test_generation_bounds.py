"""Bounds on incremental generation, in-process (perseus.testing): the store's page bound and
generation slots (ISR-06). A tiny LMDB map growing under two workers is test_lmdb_growth.py's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.testing import TestClient
from tests.conftest import copy_example
from tests.strategies import fetch_all, stored_in_process

MAX_PAGES = 8
BOUNDED = {"PERSEUS_MAX_GENERATED_PAGES": str(MAX_PAGES), "PERSEUS_MAX_CONCURRENT_GENERATIONS": "1",
           "STRATEGIES_GENERATION_DELAY": "0.05", "PERSEUS_GENERATION_TIMEOUT": "20"}


def post_lines(site: Path) -> list[list[str]]:
    """``post <slug> <gen> <generations running at once>`` per generation of a post."""
    log = site / "data" / "generations.log"
    return [line.split() for line in log.read_text().splitlines() if line.startswith("post ")]


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    site = copy_example("strategies", tmp_path_factory.mktemp("bounded"))
    with TestClient(site, env=BOUNDED) as client:
        yield client, site


def test_past_the_bound_new_pages_are_served_but_not_stored(
    bounded: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, site = bounded
    seeded = stored_in_process(site)  # the build's revalidating pages count too
    assert seeded < MAX_PAGES
    slugs = [uuid.uuid4().hex for _ in range(6)]
    responses = fetch_all(client, [f"/post/{slug}" for slug in slugs])
    assert [r.status_code for r in responses] == [200] * 6
    assert all(f"<h1>Post {slug}</h1>" in r.text for slug, r in zip(slugs, responses, strict=True))
    assert stored_in_process(site) == MAX_PAGES
    # One slot: the generations ran one at a time, however many requests came at once.
    assert {line[3] for line in post_lines(site)} == {"1"}
    # A page that was not kept is generated again for each request, and still answers.
    assert all(client.get(f"/post/{slug}").status_code == 200 for slug in slugs)
    kept = MAX_PAGES - seeded
    counts = [sum(line[1] == slug for line in post_lines(site)) for slug in slugs]
    assert sorted(counts) == [1] * kept + [2] * (len(slugs) - kept)
    assert f"PERSEUS_MAX_GENERATED_PAGES={MAX_PAGES} pages" in caplog.text


def test_a_flood_of_random_paths_does_not_grow_the_store(bounded: tuple[TestClient, Path]) -> None:
    client, site = bounded
    before = stored_in_process(site)
    data_file = site / "dist" / "mutable" / "data.mdb"
    size = data_file.stat().st_size
    paths = [f"/post/{uuid.uuid4().hex}?cb={n}" for n in range(80)]
    paths += [f"/post/missing-{uuid.uuid4().hex}" for _ in range(40)]
    responses = fetch_all(client, paths)
    assert [r.status_code for r in responses] == [200] * 80 + [404] * 40
    assert stored_in_process(site) == before
    # Storing them would take a page (4 KiB) each; what the file may gain is lease churn
    # (LMDB copies on write), a few pages whatever the number of paths.
    assert data_file.stat().st_size - size < 64 << 10
