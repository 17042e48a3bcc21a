"""examples/strategies through granian with two workers sharing LMDB on disk: what one worker
does for a page (a regeneration, a first generation) every other worker sees, and does once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, build_example
from tests.strategies import (
    ENV,
    INTERVAL,
    fetch_all,
    generations,
    stored_records,
    version_of,
    wait_for_new_version,
    wait_until_due,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example("strategies", tmp_path_factory.mktemp("strategies"), ENV)


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    server = Server(site, workers=2, env=ENV)
    yield server
    server.close()


def test_a_due_page_is_served_stale_then_the_new_version_everywhere(server: Server, site: Path) -> None:
    old = wait_until_due(server, "/clock")
    count = len(generations(site, "clock"))
    assert version_of(server.get("/clock")) == old  # answered at once with what there is
    new = wait_for_new_version(server, "/clock", old)
    assert len(generations(site, "clock")) == count + 1
    # Both workers serve the new version (fresh connections spread over them).
    responses = fetch_all(server, ["/clock"] * 10 + ["/.perseus/page/xx-XX/clock.json"] * 10)
    assert {version_of(r) for r in responses} == {new}


def test_200_concurrent_requests_to_a_due_page_regenerate_it_once(server: Server, site: Path) -> None:
    old = wait_until_due(server, "/clock")
    count = len(generations(site, "clock"))
    started = time.monotonic()
    responses = fetch_all(server, ["/clock", "/.perseus/page/xx-XX/clock.json"] * 100)
    assert all(r.status_code == 200 for r in responses)
    seen = {version_of(r) for r in responses}  # each one a whole version
    assert old in seen
    wait_for_new_version(server, "/clock", old)
    # One regeneration for the burst; on a machine so loaded that the burst outlasts the
    # interval, the new version is due again within it: one more per interval passed. A
    # stampede would be one per request.
    again = int((time.monotonic() - started) / INTERVAL)
    assert 1 <= len(generations(site, "clock")) - count <= 1 + again
    assert len(seen) <= 2 + again


def test_50_concurrent_first_requests_generate_an_incremental_page_once(server: Server, site: Path) -> None:
    slug = uuid.uuid4().hex
    before = stored_records(site)
    responses = fetch_all(server, [f"/post/{slug}"] * 50)
    assert all(r.status_code == 200 for r in responses)
    assert len({r.content for r in responses}) == 1
    assert len(generations(site, "post", slug)) == 1
    assert stored_records(site) == before + 1
    assert server.get(f"/post/{slug}").content == responses[0].content
    data = server.get(f"/.perseus/page/xx-XX/post/{slug}.json").json()
    assert data["state"]["source"] == "the posts API"  # helper state from build_paths
