"""Revalidation by tag and over HTTP, through granian with LMDB: ``POST /.perseus/revalidate``
(token, rate limit, bounds, the report), ``perseus revalidate --tag``, tags that follow a
page's regenerations, and bad tags at request time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perseus.testing import TestClient
from perseus.turbine.revalidate_route import FailureBudget
from tests.conftest import Server, perseus
from tests.strategies import version_of, wait_for_new_version
from tests.tagged_site import AUTH, ROUTE, TOKEN, generations, write_tagged_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_tagged_site(tmp_path_factory.mktemp("revalidate-http") / "site")
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    server = Server(site, env={"PERSEUS_REVALIDATE_TOKEN": TOKEN})
    yield server
    server.close()


def post(server: Server, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return server.client.post(ROUTE, json=body, headers=AUTH if headers is None else headers)


def test_the_route_marks_every_page_of_a_tag_and_answers_the_report(server: Server, site: Path) -> None:
    old = {path: version_of(server.get(path)) for path in ("/post/1", "/post/2", "/post/3")}
    answer = post(server, {"tags": ["author:ada"], "paths": ["/greet"]})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    report = answer.json()
    assert report["marked"] == ["/post/1", "/post/2"]
    assert report["skipped"] == [{"target": "/greet", "reason": "rendered on every request (template"
                                  " 'greet'): always fresh, nothing to revalidate"}]
    for path in ("/post/1", "/post/2"):
        assert version_of(server.get(path)) == old[path]  # answered at once with what there is ...
        wait_for_new_version(server, path, old[path])  # ... and regenerated in the background
    assert version_of(server.get("/post/3")) == old["/post/3"]  # another author's post: untouched
    # Prerendered pages with the tag are named, as `perseus revalidate PATH` names them.
    about = post(server, {"tags": ["about", "nobody-has-this"]}).json()
    assert about == {"marked": [], "skipped": [
        {"target": "/about", "reason": "prerendered by the build (template 'about', build state): run"
                                       " `perseus build` to change it"},
        {"target": "--tag nobody-has-this", "reason": "no page carries this tag"}]}
    assert TOKEN not in server.log.read_text()


def test_a_missing_or_wrong_token_is_401_and_other_methods_405(server: Server) -> None:
    non_ascii = "Bearer \u00fcn\u00ef".encode()
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"},
                    {"authorization": f"Bearer {TOKEN}x"}, {"authorization": non_ascii}):
        refused = post(server, {"tags": ["posts"]}, headers)
        assert refused.status_code in (401, 429), headers
        if refused.status_code == 401:
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert refused.json()["error"]["status"] == 401
        assert TOKEN not in refused.text
    for method in ("GET", "PUT", "DELETE"):
        other = server.client.request(method, ROUTE, headers=AUTH)
        assert other.status_code == 405 and other.headers["allow"] == "POST", method
    head = server.client.head(ROUTE, headers=AUTH)
    assert head.status_code == 405 and head.content == b""


def test_bodies_are_checked_before_anything_is_marked(server: Server, site: Path) -> None:
    before = generations(site, "3")
    json_headers = {**AUTH, "content-type": "application/json"}
    wrong_type = server.client.post(ROUTE, content=b'{"tags": ["post:3"]}',
                                    headers={**AUTH, "content-type": "text/plain"})
    assert wrong_type.status_code == 415
    for body, message in [
        (b'{"tags": ["post:3"', "the body is not JSON"),
        (b"[]", "the body must be a JSON object"),
        (b'{"tag": ["post:3"]}', "unknown field 'tag'"),
        (b'{"tags": "post:3"}', "'tags' must be a list of strings"),
        (b'{"paths": [1]}', "'paths' must be a list of strings"),
        (b"{}", "name the pages"),
        (b'{"tags": ["not a tag"]}', "tag 'not a tag' has a character other than"),
    ]:
        bad = server.client.post(ROUTE, content=body, headers=json_headers)
        assert bad.status_code == 400, body
        assert message in bad.json()["error"]["message"], body
    declared = server.client.post(ROUTE, content=b" " * 70_000, headers=json_headers)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no content-length: read until the bound, then refused
        yield b'{"paths": ["'
        for _ in range(100):
            yield b"a" * 1024

    streamed = server.client.post(ROUTE, content=chunks(), headers=json_headers)
    assert streamed.status_code == 413
    assert generations(site, "3") == before
    assert server.get("/post/3").status_code == 200  # the server is fine


def test_wrong_tokens_coming_fast_are_429_but_a_right_token_is_never_refused(server: Server) -> None:
    answers = []
    for _ in range(60):
        answers.append(post(server, {"tags": ["posts"]}, {"authorization": "Bearer guess"}))
        if answers[-1].status_code == 429:
            break
    limited = answers[-1]
    assert limited.status_code == 429, [a.status_code for a in answers]
    assert int(limited.headers["retry-after"]) >= 1
    assert post(server, {"tags": ["no-such-tag"]}).status_code == 200
    assert "refusing revalidation requests with a wrong token for a while" in server.log.read_text()


def test_the_cli_marks_by_tag_and_names_what_it_cannot_mark(server: Server, site: Path) -> None:
    old = version_of(server.get("/post/3"))
    result = perseus("revalidate", "--tag", "post:3", "--tag", "about", "--tag", "nope", cwd=site,
                     check=False)
    assert result.returncode == 1
    assert "marked /post/3" in result.stdout
    assert "/about: prerendered by the build (template 'about', build state)" in result.stderr
    assert "--tag nope: no page carries this tag" in result.stderr
    wait_for_new_version(server, "/post/3", old)
    ignored = perseus("revalidate", "--tag", "nope", "--ignore-missing", cwd=site)
    assert "0 page(s) marked due, 1 cannot be revalidated" in ignored.stdout
    bad = perseus("revalidate", "--tag", "not a tag", cwd=site, check=False)
    assert bad.returncode == 1 and "tag 'not a tag' has a character other than" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_pages_tags_follow_its_regenerations(server: Server, site: Path) -> None:
    extra = site / "data" / "extra-tag"
    extra.write_text("featured")  # the CMS features post 1: its next version carries the tag
    try:
        old = version_of(server.get("/post/1"))
        perseus("revalidate", "/post/1", cwd=site)
        server.get("/post/1")
        featured = wait_for_new_version(server, "/post/1", old)
    finally:
        extra.unlink()
    assert post(server, {"tags": ["featured"]}).json()["marked"] == ["/post/1"]
    server.get("/post/1")
    wait_for_new_version(server, "/post/1", featured)  # regenerated, no longer featured
    assert post(server, {"tags": ["featured"]}).json() == {
        "marked": [], "skipped": [{"target": "--tag featured", "reason": "no page carries this tag"}]}


def test_generated_pages_are_found_by_their_tags(server: Server) -> None:
    slug = f"new-{time.monotonic_ns()}"
    old = version_of(server.get(f"/post/{slug}"))  # generated on its first request, tagged post:<slug>
    assert post(server, {"tags": [f"post:{slug}"]}).json()["marked"] == [f"/post/{slug}"]
    server.get(f"/post/{slug}")
    wait_for_new_version(server, f"/post/{slug}", old)


def test_a_bad_tag_at_request_time_is_a_logged_500(server: Server) -> None:
    answer = server.get("/post/bad-tag")
    assert answer.status_code == 500
    assert "not a tag" not in answer.text and "Traceback" not in answer.text
    log = server.log.read_text()
    assert "page '/post/bad-tag' failed: TagError: tag 'not a tag' has a character other than" in log


def test_without_the_token_the_route_does_not_exist(basic_server: Server) -> None:
    for method in ("POST", "GET", "PUT"):
        answer = basic_server.client.request(method, ROUTE, headers=AUTH, json={"tags": ["x"]})
        assert answer.status_code == 404, method


def test_a_short_token_stops_every_command_without_showing_it(site: Path) -> None:
    for token, message in (("short-secret", "is 12 characters long; use at least 32"),
                           ("has space " * 4, "may hold only A-Z a-z 0-9")):
        result = perseus("serve", "--no-build", cwd=site, env={"PERSEUS_REVALIDATE_TOKEN": token},
                         check=False)
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert f"PERSEUS_REVALIDATE_TOKEN {message}" in output
        assert token.strip() not in output and "Traceback" not in output


def test_the_asgi_adapter_and_the_test_client_hand_the_body_over_too(site: Path) -> None:
    asgi = Server(site, env={"PERSEUS_REVALIDATE_TOKEN": TOKEN}, interface="asgi")
    try:
        answer = asgi.client.post(ROUTE, json={"tags": ["about"]}, headers=AUTH)
        assert answer.status_code == 200 and answer.json()["skipped"][0]["target"] == "/about"
        too_big = asgi.client.post(ROUTE, content=(b"x" * 1024 for _ in range(100)),
                                   headers={**AUTH, "content-type": "application/json"})
        assert too_big.status_code == 413
    finally:
        asgi.close()
    with TestClient(site, build=False, env={"PERSEUS_REVALIDATE_TOKEN": TOKEN}) as client:
        report = client.post(ROUTE, json={"tags": ["about"]}, headers=AUTH)
        assert report.status_code == 200 and report.json()["marked"] == []
        assert client.post(ROUTE, content=b"{", headers={**AUTH, "content-type": "application/json"}
                           ).status_code == 400


def test_the_failure_budget_is_a_token_bucket() -> None:
    budget = FailureBudget(burst=3, per_second=0.5)
    assert [budget.spend(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.spend(100.0) == 2.0  # empty: one more in 2 s
    assert budget.spend(101.0) == 1.0
    assert budget.spend(102.0) == 0.0  # refilled by then
    assert budget.spend(1000.0) == 0.0 and budget.left == 2.0  # never above the burst
