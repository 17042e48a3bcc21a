"""x-perseus-cache and Cache-Control per strategy: what each answer says it came from, and
what a CDN in front may do with it. In-process for the sequences (HIT, STALE, GENERATED,
MISS), through real granian for the headers on the wire (REDbot-style checks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import perseus
from perseus.errors import ConfigurationError
from perseus.http.caching import CachePolicy
from perseus.settings import load_settings
from perseus.stores.lmdb_store import lmdb_session
from perseus.stores.records import PageRecords
from perseus.testing import TestClient
from tests.conftest import Server, split_answer

APP = '''
from perseus import BuildPaths, NotFound, PerseusApp, Template

BIG = "<p>The quick brown fox jumps over the lazy dog, again and again.</p>" * 40


def view(ctx, state):
    return "<h1>" + ctx.path + "</h1>" + BIG


def item_state(info):
    if info.path == "gone":
        raise NotFound()
    return {"path": info.path}


app = PerseusApp(templates=[
    Template("plain", view=view),
    Template("own", view=view, set_headers=lambda ctx, state: {"Cache-Control": "public, max-age=600"}),
    Template("news", view=view, build_state=lambda info: {}, revalidate_after="1h"),
    Template("logic", view=view, build_state=lambda info: {}, should_revalidate=lambda info, request: False),
    Template("greet", view=view, request_state=lambda info, request: {"q": request.query.get("q")}),
    Template("post", view=view, build_paths=lambda: ["a"], build_state=item_state, incremental=True),
    Template("item", view=view, build_paths=lambda: [], build_state=item_state, incremental=True,
             revalidate_after="90s"),
])
'''
PRERENDERED = "public, max-age=0, must-revalidate"
CDN_MAX_AGE = "public, max-age=0, must-revalidate, s-maxage=60"
HOURLY = "public, max-age=0, s-maxage=3600, stale-while-revalidate=86400"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("cache") / "site"
    project.mkdir()
    (project / "app.py").write_text(APP)
    return project


@pytest.fixture
def client(project: Path) -> Iterator[TestClient]:
    with TestClient(project) as client:  # a fresh build (and store) for each test
        yield client


@pytest.mark.parametrize(("max_age", "swr", "revalidates", "interval", "per_request", "expected"), [
    (0, 86400, False, None, False, "public, max-age=0, must-revalidate"),
    (300, 86400, False, None, False, "public, max-age=0, must-revalidate, s-maxage=300"),
    (300, 60, True, 90.0, False, "public, max-age=0, s-maxage=90, stale-while-revalidate=60"),
    (0, 60, True, 0.5, False, "public, max-age=0, s-maxage=1, stale-while-revalidate=60"),
    (0, 0, True, None, False, "public, max-age=0, s-maxage=0, stale-while-revalidate=0"),
    (300, 60, True, 90.0, True, "private, no-store"),
    (300, 60, False, None, True, "private, no-store"),
])
def test_cache_control_per_strategy(max_age: int, swr: int, revalidates: bool, interval: float | None,
                                    per_request: bool, expected: str) -> None:
    assert CachePolicy(max_age, swr).of(revalidates, interval, per_request) == expected


@pytest.mark.parametrize("value", ["-1", "1.5", "soon", "999999999999"])
def test_cdn_settings_are_whole_seconds(tmp_path: Path, value: str) -> None:
    for name in ("PERSEUS_CDN_MAX_AGE", "PERSEUS_CDN_SWR"):
        with pytest.raises(ConfigurationError, match=name):
            load_settings(tmp_path, {name: value})
    settings = load_settings(tmp_path, {"PERSEUS_CDN_MAX_AGE": "0", "PERSEUS_CDN_SWR": "30"})
    assert (settings.cdn_max_age, settings.cdn_swr) == (0, 30)


def status_of(client: TestClient, path: str, method: str = "GET") -> tuple[int, str | None]:
    response = client.request(method, path)
    return response.status_code, response.headers.get("x-perseus-cache")


def test_prerendered_pages_are_hits(client: TestClient) -> None:
    for path in ("/plain", "/.perseus/page/xx-XX/plain.json", "/post/a"):
        assert status_of(client, path) == (200, "HIT")
        assert status_of(client, path, "HEAD") == (200, "HIT")
    etag = client.get("/plain").headers["etag"]
    response = client.get("/plain", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.headers["x-perseus-cache"] == "HIT"


def test_a_revalidating_page_is_a_hit_then_stale_while_it_regenerates(client: TestClient,
                                                                      project: Path) -> None:
    assert status_of(client, "/news") == (200, "HIT")
    perseus.revalidate(project / "dist", ["/news"])
    assert status_of(client, "/.perseus/page/xx-XX/news.json") == (200, "STALE")
    client.wait_idle()
    assert status_of(client, "/news") == (200, "HIT")
    assert status_of(client, "/.perseus/page/xx-XX/news.json") == (200, "HIT")


def test_a_page_with_logic_only_is_stale_each_time_since_its_check_runs_each_time(client: TestClient) -> None:
    assert status_of(client, "/logic") == (200, "STALE")
    client.wait_idle()
    assert status_of(client, "/logic") == (200, "STALE")


def test_a_revalidating_page_without_its_stored_version_is_a_miss(client: TestClient, project: Path) -> None:
    with lmdb_session(project / "dist" / "mutable") as store:
        PageRecords(store, "").delete("xx-XX", "news")
    assert status_of(client, "/news") == (200, "MISS")  # the build's copy
    assert status_of(client, "/.perseus/page/xx-XX/news.json") == (200, "MISS")


def test_request_state_is_bypassed(client: TestClient) -> None:
    assert status_of(client, "/greet?q=1") == (200, "BYPASS")
    assert status_of(client, "/.perseus/page/xx-XX/greet.json") == (200, "BYPASS")
    assert status_of(client, "/greet", "HEAD") == (200, "BYPASS")


def test_an_incremental_page_is_generated_then_a_hit(client: TestClient) -> None:
    assert status_of(client, "/post/new") == (200, "GENERATED")
    assert status_of(client, "/post/new") == (200, "HIT")
    assert status_of(client, "/.perseus/page/xx-XX/post/new.json") == (200, "HIT")
    assert status_of(client, "/.perseus/page/xx-XX/item/x.json") == (200, "GENERATED")
    assert status_of(client, "/item/x") == (200, "HIT")


def test_an_incremental_page_the_store_cannot_keep_is_a_miss(project: Path) -> None:
    # The build's two revalidating pages fill a store bounded at two pages.
    with TestClient(project, env={"PERSEUS_MAX_GENERATED_PAGES": "2"}) as client:
        assert status_of(client, "/post/new") == (200, "MISS")
        assert status_of(client, "/post/new") == (200, "MISS")


def test_error_answers_carry_no_cache_status_and_no_etag(client: TestClient) -> None:
    for path in ("/nowhere", "/post/gone", "/.perseus/page/xx-XX/nowhere.json"):
        response = client.get(path)
        assert response.status_code == 404
        assert "x-perseus-cache" not in response.headers and "etag" not in response.headers
    response = client.get("/nowhere", headers={"If-None-Match": "*"})
    assert response.status_code == 404


@pytest.fixture(scope="module")
def granian(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    TestClient(project).close()  # built with PERSEUS_CDN_MAX_AGE unset
    # NOTE: set only for the server, after the build: it is read when the site opens.
    running = Server(project, env={"PERSEUS_CDN_MAX_AGE": "60"})
    yield running
    running.close()


def wire(server: Server, path: str, *headers: str, method: str = "GET") -> tuple[int, dict[str, str]]:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    status, fields, _ = split_answer(server.raw(("\r\n".join(lines) + "\r\n\r\n").encode()))
    return status, fields


@pytest.mark.parametrize(("path", "cache_control", "status"), [
    ("/plain", CDN_MAX_AGE, "HIT"),
    ("/.perseus/page/xx-XX/plain.json", CDN_MAX_AGE, "HIT"),
    ("/own", "public, max-age=600", "HIT"),  # the template's own, kept
    ("/post/a", CDN_MAX_AGE, "HIT"),
    ("/news", HOURLY, "HIT"),
    ("/.perseus/page/xx-XX/news.json", HOURLY, "HIT"),
    ("/logic", "public, max-age=0, s-maxage=0, stale-while-revalidate=86400", "STALE"),
    ("/greet", "private, no-store", "BYPASS"),
    ("/.perseus/page/xx-XX/greet.json", "private, no-store", "BYPASS"),
    ("/item/wired", "public, max-age=0, s-maxage=90, stale-while-revalidate=86400", "GENERATED"),
    ("/post/wired", CDN_MAX_AGE, "GENERATED"),
])
def test_each_strategy_tells_a_cdn_how_to_keep_it(granian: Server, path: str, cache_control: str,
                                                  status: str) -> None:
    code, headers = wire(granian, path)
    assert code == 200
    assert headers["cache-control"] == cache_control
    assert headers["x-perseus-cache"] == status
    if status == "BYPASS":
        assert "etag" not in headers  # nothing to revalidate: never stored
        return
    # What a shared cache needs to revalidate it: a strong validator that gives a 304.
    assert headers["etag"].startswith('"')
    code, again = wire(granian, path, f"If-None-Match: {headers['etag']}")
    assert code == 304 and again["etag"] == headers["etag"]
    assert again["cache-control"] == cache_control
    code, head = wire(granian, path, method="HEAD")
    assert code == 200 and head["cache-control"] == cache_control and head["etag"] == headers["etag"]


def test_not_found_has_no_validator_to_match(granian: Server) -> None:
    for path in ("/nowhere", "/item/gone"):
        code, headers = wire(granian, path, 'If-None-Match: "x", *')
        assert code == 404
        assert "etag" not in headers and "x-perseus-cache" not in headers
        assert headers["cache-control"] == "no-store"
