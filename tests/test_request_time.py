"""examples/strategies answered in-process (perseus.testing), LMDB on disk: the request-time
strategies. What needs two worker processes is in test_request_time_workers.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.testing import USER_AGENT, TestClient
from tests.conftest import copy_example
from tests.strategies import (
    ENV,
    fetch_all,
    generations,
    stored_in_process,
    version_of,
    wait_for_new_version,
    wait_until_due,
)

# NOTE: one process answers here, where granian ran two workers of 8 generation slots each:
# 60 first requests at once, 0.3 s each, would otherwise queue past the 2 s generation timeout.
IN_PROCESS = {**ENV, "PERSEUS_MAX_CONCURRENT_GENERATIONS": "16"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example("strategies", tmp_path_factory.mktemp("strategies"))


@pytest.fixture(scope="module")
def client(site: Path) -> Iterator[TestClient]:
    with TestClient(site, env=IN_PROCESS) as client:  # built in-process, as `perseus build` would
        yield client


def test_request_state_sees_the_request_and_is_never_stored(client: TestClient, site: Path) -> None:
    before = stored_in_process(site)
    response = client.get("/greet?name=<b>Ann</b>&name=second",
                          headers={"X-Visitor": "Zoe", "Cookie": "flavour=mint; other=1"})
    assert response.status_code == 200
    assert "<h1>Hello, &lt;b&gt;Ann&lt;/b&gt;!</h1>" in response.text
    assert '<p id="flavour">mint</p>' in response.text
    assert '<p id="visitor">Zoe</p>' in response.text  # a header
    assert response.headers["cache-control"] == "private, no-store"
    assert "etag" not in response.headers
    data = client.get("/.perseus/page/xx-XX/greet.json?name=Bo").json()
    assert data["state"] == {"name": "Bo", "flavour": None, "agent": USER_AGENT, "visitor": None}
    assert client.get("/greet?name=Cy").text.count("Hello, Cy!") == 1
    assert stored_in_process(site) == before


def test_amalgamation_merges_build_and_request_state(client: TestClient) -> None:
    response = client.get("/merged?q=tea")
    assert '<p id="merged">at build time + tea (from the request)</p>' in response.text
    assert response.headers["cache-control"] == "private, no-store"
    state = client.get("/.perseus/page/xx-XX/merged.json?q=x").json()["state"]
    assert state == {"built": "at build time", "asked": "x", "shared": "from the request", "merged": True}


def test_head_on_a_due_page_starts_no_regeneration(client: TestClient, site: Path) -> None:
    wait_until_due(client, "/clock")
    count = len(generations(site, "clock"))
    for _ in range(5):
        response = client.head("/clock")
        assert response.status_code == 200 and response.content == b""
    time.sleep(0.5)
    assert len(generations(site, "clock")) == count


def test_logic_revalidation_regenerates_when_the_logic_says_so(client: TestClient, site: Path) -> None:
    old = version_of(client.get("/news"))
    assert version_of(client.get("/news")) == old  # nothing changed: nothing regenerated
    count = len(generations(site, "news"))
    (site / "data" / "news.stale").touch()
    assert version_of(client.get("/news")) == old
    wait_for_new_version(client, "/news", old)
    time.sleep(0.3)
    fetch_all(client, ["/news"] * 10)
    assert len(generations(site, "news")) == count + 1


def test_a_failing_regeneration_keeps_serving_the_last_good_version(
    client: TestClient, site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (site / "data" / "flaky.fail").touch()
    try:
        time.sleep(1.2)  # the version there is is due (1s interval), and its data source is down
        count = len(generations(site, "flaky"))
        last_good = client.get("/flaky")
        for _ in range(10):
            response = client.get("/flaky")
            assert response.status_code == 200
            assert response.content == last_good.content
            time.sleep(0.1)
        assert len(generations(site, "flaky")) == count
        deadline = time.monotonic() + 5
        while "ConnectionError: the news API is down" not in caplog.text:
            assert time.monotonic() < deadline, "the failed regeneration was not logged"
            time.sleep(0.05)
    finally:
        (site / "data" / "flaky.fail").unlink()
    wait_for_new_version(client, "/flaky", version_of(last_good))  # recovers after the backoff


def test_a_hanging_regeneration_is_abandoned_and_the_page_keeps_being_served(
    client: TestClient, site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (site / "data" / "slow.hang").touch()
    try:
        time.sleep(1.2)  # due, and its data source now hangs
        last_good = client.get("/slow")
        deadline = time.monotonic() + 8
        while "regenerating '/slow' (xx-XX) timed out" not in caplog.text:
            assert time.monotonic() < deadline, "the hung regeneration was never abandoned"
            response = client.get("/slow")
            assert response.status_code == 200 and response.content == last_good.content
            time.sleep(0.1)
    finally:
        (site / "data" / "slow.hang").unlink()
    wait_for_new_version(client, "/slow", version_of(last_good))  # a later attempt succeeds


def test_incremental_not_found_and_errors_store_nothing(client: TestClient, site: Path) -> None:
    before = stored_in_process(site)
    paths = [f"/post/missing-{uuid.uuid4().hex}" for _ in range(40)]
    paths += [f"/.perseus/page/xx-XX/post/missing-{uuid.uuid4().hex}.json" for _ in range(20)]
    responses = fetch_all(client, paths)
    assert {r.status_code for r in responses} == {404}
    assert responses[-1].json()["error"] == {"status": 404, "message": "page not found"}
    boom = client.get("/post/boom")
    assert boom.status_code == 500
    assert "garbage" not in boom.text and "Traceback" not in boom.text
    assert client.get("/post/a/../b").status_code == 404  # never generated as a page named '..'
    assert stored_in_process(site) == before


def test_a_generated_page_whose_source_is_gone_becomes_404_until_it_is_back(
    client: TestClient, site: Path
) -> None:
    slug = uuid.uuid4().hex
    assert client.get(f"/post/{slug}").status_code == 200
    (site / "data" / f"{slug}.deleted").touch()
    (site / "data" / f"{slug}.stale").touch()
    try:
        client.get(f"/post/{slug}")  # served at once; the regeneration finds the post gone
        deadline = time.monotonic() + 6
        while client.get(f"/post/{slug}").status_code != 404:
            assert time.monotonic() < deadline, "the deleted post is still served"
            time.sleep(0.05)
        assert client.get(f"/.perseus/page/xx-XX/post/{slug}.json").status_code == 404
    finally:
        (site / "data" / f"{slug}.deleted").unlink()
    assert client.get(f"/post/{slug}").status_code == 200  # restored: generated again


def test_built_pages_of_an_incremental_template_need_no_generation(client: TestClient, site: Path) -> None:
    assert generations(site, "post", "a") == [version_of(client.get("/post/a"))]
