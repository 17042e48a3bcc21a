"""examples/strategies through granian with two workers and LMDB on disk: the request-time strategies."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from perseus.stores.lmdb_store import LMDBStore
from tests.conftest import Server, build_example, run_in_thread

ENV = {"STRATEGIES_CLOCK_INTERVAL": "3s", "PERSEUS_RETRY_BACKOFF": "0.3",
       "STRATEGIES_GENERATION_DELAY": "0.3", "PERSEUS_GENERATION_TIMEOUT": "2"}
INTERVAL = 3.0



@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example("strategies", tmp_path_factory.mktemp("strategies"), ENV)


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    server = Server(site, workers=2, env=ENV)
    yield server
    server.close()


def generations(site: Path, template: str, path: str = "-") -> list[str]:
    log = site / "data" / "generations.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split()[2] for line in lines if line.split()[:2] == [template, path]]


def stored_records(site: Path) -> int:
    store = LMDBStore(str(site / "dist" / "mutable"), readonly=True)
    try:
        return store.count()
    finally:
        store.close()


def version_of(response: httpx.Response) -> str:
    """The generation id of a versioned page, checking head, body and state agree (one version)."""
    if response.headers["content-type"] == "application/json":
        data = response.json()
        head = re.search(r'<meta name="gen" content="([^"]+)">', data["head"])
        body = re.search(r'<p id="gen">([^<]+)</p>', data["content"])
        state = data["state"]["gen"]
    else:
        head = re.search(r'<meta name="gen" content="([^"]+)">', response.text)
        body = re.search(r'<p id="gen">([^<]+)</p>', response.text)
        embedded = re.search(r'<script id="__perseus_state" type="application/json">(.*?)</script>',
                             response.text)
        assert embedded
        state = orjson.loads(embedded.group(1))["gen"]
    assert head and body, response.text
    assert head.group(1) == body.group(1) == state, "head, body and state come from different versions"
    return state


def fetch_all(server: Server, paths: list[str],
              headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """GET every path at once, each on a fresh connection so both workers answer."""
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, timeout=20, limits=limits) as client:
            return list(await asyncio.gather(*(client.get(p, headers=headers) for p in paths)))
    return run_in_thread(run)


def wait_for_new_version(server: Server, path: str, old: str, timeout: float = 6) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = version_of(httpx.get(server.url + path))
        if current != old:
            return current
        time.sleep(0.05)
    raise AssertionError(f"{path} still serves {old} after {timeout}s; server log:\n{server.log.read_text()}")


def wait_until_due(server: Server, path: str) -> str:
    """Sleep until the page's current version is due, without starting a regeneration; return it."""
    for _ in range(3):
        response = server.get(path)
        embedded = re.search(r'__perseus_state" type="application/json">(.*?)</script>', response.text)
        assert embedded
        due_at = orjson.loads(embedded.group(1))["at"] + INTERVAL
        if due_at > time.time():
            time.sleep(due_at + 0.1 - time.time())
            return version_of(response)
        wait_for_new_version(server, path, version_of(response))  # that GET started one: let it finish
    raise AssertionError(f"{path} never settled on a fresh version")


def test_request_state_sees_the_request_and_is_never_stored(server: Server, site: Path) -> None:
    before = stored_records(site)
    response = server.get("/greet?name=<b>Ann</b>&name=second",
                          headers={"X-Visitor": "Zoe", "Cookie": "flavour=mint; other=1"})
    assert response.status_code == 200
    assert "<h1>Hello, &lt;b&gt;Ann&lt;/b&gt;!</h1>" in response.text
    assert '<p id="flavour">mint</p>' in response.text
    assert '<p id="visitor">Zoe</p>' in response.text  # request-time global state, amalgamated
    assert response.headers["cache-control"] == "private, no-store"
    assert "etag" not in response.headers
    data = server.get("/.perseus/page/xx-XX/greet.json?name=Bo").json()
    assert data["state"] == {"name": "Bo", "flavour": None, "agent": "python-httpx/" + httpx.__version__}
    assert server.get("/greet?name=Cy").text.count("Hello, Cy!") == 1
    assert stored_records(site) == before


def test_amalgamation_merges_build_and_request_state(server: Server) -> None:
    response = server.get("/merged?q=tea")
    assert '<p id="merged">at build time + tea (from the request)</p>' in response.text
    assert response.headers["cache-control"] == "private, no-store"
    state = server.get("/.perseus/page/xx-XX/merged.json?q=x").json()["state"]
    assert state == {"built": "at build time", "asked": "x", "shared": "from the request", "merged": True}


def test_a_due_page_is_served_stale_then_the_new_version_everywhere(server: Server, site: Path) -> None:
    old = wait_until_due(server, "/clock")
    count = len(generations(site, "clock"))
    assert version_of(server.get("/clock")) == old  # answered at once with what there is
    new = wait_for_new_version(server, "/clock", old)
    assert len(generations(site, "clock")) == count + 1
    # Both workers serve the new version (fresh connections spread over them).
    responses = fetch_all(server, ["/clock"] * 10 + ["/.perseus/page/xx-XX/clock.json"] * 10)
    assert {version_of(r) for r in responses} == {new}


def test_head_on_a_due_page_starts_no_regeneration(server: Server, site: Path) -> None:
    wait_until_due(server, "/clock")
    count = len(generations(site, "clock"))
    for _ in range(5):
        response = server.client.head("/clock")
        assert response.status_code == 200 and response.content == b""
    time.sleep(0.5)
    assert len(generations(site, "clock")) == count


def test_200_concurrent_requests_to_a_due_page_regenerate_it_once(server: Server, site: Path) -> None:
    old = wait_until_due(server, "/clock")
    count = len(generations(site, "clock"))
    responses = fetch_all(server, ["/clock", "/.perseus/page/xx-XX/clock.json"] * 100)
    assert all(r.status_code == 200 for r in responses)
    seen = {version_of(r) for r in responses}  # each one a whole version
    assert old in seen and len(seen) <= 2
    wait_for_new_version(server, "/clock", old)
    assert len(generations(site, "clock")) == count + 1


def test_logic_revalidation_regenerates_when_the_logic_says_so(server: Server, site: Path) -> None:
    old = version_of(server.get("/news"))
    assert version_of(server.get("/news")) == old  # nothing changed: nothing regenerated
    count = len(generations(site, "news"))
    (site / "data" / "news.stale").touch()
    assert version_of(server.get("/news")) == old
    wait_for_new_version(server, "/news", old)
    time.sleep(0.3)
    fetch_all(server, ["/news"] * 10)
    assert len(generations(site, "news")) == count + 1, server.log.read_text()


def test_a_failing_regeneration_keeps_serving_the_last_good_version(server: Server, site: Path) -> None:
    (site / "data" / "flaky.fail").touch()
    try:
        time.sleep(1.2)  # the version there is is due (1s interval), and its data source is down
        count = len(generations(site, "flaky"))
        last_good = server.get("/flaky")
        for _ in range(10):
            response = server.get("/flaky")
            assert response.status_code == 200
            assert response.content == last_good.content
            time.sleep(0.1)
        assert len(generations(site, "flaky")) == count
        deadline = time.monotonic() + 5
        while "ConnectionError: the news API is down" not in server.log.read_text():
            assert time.monotonic() < deadline, "the failed regeneration was not logged"
            time.sleep(0.05)
    finally:
        (site / "data" / "flaky.fail").unlink()
    wait_for_new_version(server, "/flaky", version_of(last_good))  # recovers after the backoff


def test_a_hanging_regeneration_is_abandoned_and_the_page_keeps_being_served(
    server: Server, site: Path
) -> None:
    (site / "data" / "slow.hang").touch()
    try:
        time.sleep(1.2)  # due, and its data source now hangs
        last_good = server.get("/slow")
        deadline = time.monotonic() + 8
        while "regenerating '/slow' (xx-XX) timed out" not in server.log.read_text():
            assert time.monotonic() < deadline, "the hung regeneration was never abandoned"
            response = server.get("/slow")
            assert response.status_code == 200 and response.content == last_good.content
            time.sleep(0.1)
    finally:
        (site / "data" / "slow.hang").unlink()
    wait_for_new_version(server, "/slow", version_of(last_good))  # a later attempt succeeds


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


def test_incremental_not_found_and_errors_store_nothing(server: Server, site: Path) -> None:
    before = stored_records(site)
    paths = [f"/post/missing-{uuid.uuid4().hex}" for _ in range(40)]
    paths += [f"/.perseus/page/xx-XX/post/missing-{uuid.uuid4().hex}.json" for _ in range(20)]
    responses = fetch_all(server, paths)
    assert {r.status_code for r in responses} == {404}
    assert responses[-1].json() == {"error": {"status": 404, "message": "page not found"}}
    boom = server.get("/post/boom")
    assert boom.status_code == 500
    assert "garbage" not in boom.text and "Traceback" not in boom.text
    assert server.raw_get(b"/post/a/../b")[0] == 404  # never generated as a page named '..'
    assert stored_records(site) == before


def test_a_generated_page_whose_source_is_gone_becomes_404_until_it_is_back(
    server: Server, site: Path
) -> None:
    slug = uuid.uuid4().hex
    assert server.get(f"/post/{slug}").status_code == 200
    (site / "data" / f"{slug}.deleted").touch()
    (site / "data" / f"{slug}.stale").touch()
    try:
        server.get(f"/post/{slug}")  # served at once; the regeneration finds the post gone
        deadline = time.monotonic() + 6
        while server.get(f"/post/{slug}").status_code != 404:
            assert time.monotonic() < deadline, "the deleted post is still served"
            time.sleep(0.05)
        assert server.get(f"/.perseus/page/xx-XX/post/{slug}.json").status_code == 404
    finally:
        (site / "data" / f"{slug}.deleted").unlink()
    assert server.get(f"/post/{slug}").status_code == 200  # restored: generated again


def test_built_pages_of_an_incremental_template_need_no_generation(server: Server, site: Path) -> None:
    assert generations(site, "post", "a") == [version_of(server.get("/post/a"))]
