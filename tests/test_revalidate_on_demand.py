"""`perseus revalidate` (another process) and ``perseus.revalidate`` against examples/strategies
answered in-process (perseus.testing, LMDB on disk); and ISR-10, a ``should_revalidate`` that raises;
and `perseus revalidate` after a rebuild, against a server (granian) still serving the build before.
That a regeneration one worker runs is served by every worker is test_request_time_workers.py's."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import perseus
from perseus.errors import RevalidateError
from perseus.stores.immutable import read_build_id
from perseus.testing import TestClient
from tests.conftest import Server, copy_example
from tests.conftest import perseus as perseus_cli
from tests.strategies import fetch_all, generations, version_of, wait_for_new_version

ENV = {"PERSEUS_RETRY_BACKOFF": "0.3", "PERSEUS_GENERATION_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example("strategies", tmp_path_factory.mktemp("on-demand"))


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[TestClient]:
    with TestClient(site, env=ENV) as client:
        yield client


def settled(server: TestClient, path: str) -> str:
    """The page's version once no regeneration (say, from an earlier mark) is changing it."""
    current = version_of(server.get(path))
    for _ in range(20):
        time.sleep(0.3)
        again = version_of(server.get(path))
        if again == current:
            return current
        current = again
    raise AssertionError(f"{path} keeps changing")


def test_a_revalidated_page_is_served_stale_once_then_regenerated(server: TestClient, site: Path) -> None:
    old = settled(server, "/news")
    count = len(generations(site, "news"))
    result = perseus_cli("revalidate", "/news", cwd=site)  # another process, the server running
    assert "marked /news" in result.stdout
    assert version_of(server.get("/news")) == old  # answered at once with the version there is
    new = wait_for_new_version(server, "/news", old)
    # should_revalidate says "unchanged" (no news.stale): an on-demand mark regenerates anyway.
    assert len(generations(site, "news")) == count + 1
    responses = fetch_all(server, ["/news"] * 8 + ["/.perseus/page/xx-XX/news.json"] * 8)
    assert {version_of(r) for r in responses} == {new}  # HTML and JSON
    time.sleep(0.3)
    fetch_all(server, ["/news"] * 4)
    assert len(generations(site, "news")) == count + 1  # the mark is spent: no more regenerations


def test_a_generated_incremental_page_can_be_revalidated(server: TestClient, site: Path) -> None:
    slug = uuid.uuid4().hex
    old = version_of(server.get(f"/post/{slug}"))
    perseus_cli("revalidate", f"/post/{slug}", cwd=site)
    assert version_of(server.get(f"/post/{slug}")) == old
    wait_for_new_version(server, f"/post/{slug}", old)
    assert len(generations(site, "post", slug)) == 2


def test_pages_that_cannot_be_revalidated_are_named_with_their_kind(server: TestClient, site: Path) -> None:
    never = f"/post/never-{uuid.uuid4().hex}"
    result = perseus_cli("revalidate", "/nope", "/greet", "/", never, "/clock", cwd=site, check=False)
    assert result.returncode == 1
    assert "/nope: no page of this site has this path" in result.stderr
    assert "/greet: rendered on every request (template 'greet')" in result.stderr
    assert "/: prerendered by the build (template 'index', static): run `perseus build`" in result.stderr
    assert f"{never}: not generated yet (incremental template 'post')" in result.stderr
    assert "marked /clock" in result.stdout  # the pages that can be revalidated still are
    assert "Traceback" not in result.stderr
    assert server.get(never).status_code == 200  # a mark never creates a page
    ignored = perseus_cli("revalidate", "--ignore-missing", "/nope", cwd=site, check=False)
    assert ignored.returncode == 0 and "/nope: no page" in ignored.stderr
    usage = perseus_cli("revalidate", cwd=site, check=False)
    assert usage.returncode == 2 and "--template NAME or --all" in usage.stderr


def test_a_whole_template_or_every_stored_page(server: TestClient, site: Path) -> None:
    slug = uuid.uuid4().hex
    server.get(f"/post/{slug}")
    result = perseus_cli("revalidate", "--template", "post", cwd=site)
    assert "marked /post/a" in result.stdout and f"marked /post/{slug}" in result.stdout
    assert "/clock" not in result.stdout
    typo = perseus_cli("revalidate", "--template", "pots", cwd=site, check=False)
    assert typo.returncode == 1 and "did you mean 'post'?" in typo.stderr
    everything = perseus_cli("revalidate", "--all", cwd=site)
    for url in ("/clock", "/news", "/flaky", "/slow", "/post/a", f"/post/{slug}"):
        assert f"marked {url}\n" in everything.stdout


def test_the_python_api_marks_pages_and_raises_for_the_others(server: TestClient, site: Path) -> None:
    old = settled(server, "/clock")
    report = perseus.revalidate(site / "dist", ["/clock"])
    assert report.marked == ["/clock"] and report.skipped == []
    server.get("/clock")
    wait_for_new_version(server, "/clock", old)
    with pytest.raises(RevalidateError, match="/greet: rendered on every request") as raised:
        perseus.revalidate(site / "dist", ["/greet"])
    assert raised.value.skipped[0][0] == "/greet"
    kept = perseus.revalidate(site / "dist", ["/greet"], ignore_missing=True)
    assert kept.marked == [] and len(kept.skipped) == 1


def test_should_revalidate_raising_keeps_the_last_good_version(
    server: TestClient, site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ISR-10: logged, never in the body, retried only after a backoff."""
    flag = site / "data" / "news.check-fails"
    settled(server, "/news")
    last_good = server.get("/news")
    flag.touch()
    try:
        for _ in range(20):
            response = server.get("/news")
            assert response.status_code == 200 and response.content == last_good.content
            assert "CMS status" not in response.text and "Traceback" not in response.text
            time.sleep(0.1)
        checks = len(generations(site, "news-check"))
        # 20 requests over 2 s, backoff 0.3 s doubling: a handful of attempts, not one per request.
        assert 1 <= checks <= 6, checks
        log = caplog.text
        assert "ConnectionError: the CMS status API is down" in log
        assert "serving the last good version" in log
    finally:
        flag.unlink()
    (site / "data" / "news.stale").touch()
    wait_for_new_version(server, "/news", version_of(last_good))  # recovers after the backoff


def test_no_build_is_a_clear_error(tmp_path: Path) -> None:
    result = perseus_cli("revalidate", "--dist", "nowhere", "/news", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "no build in nowhere: run `perseus build` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_revalidate_after_a_rebuild_names_the_build_the_running_server_serves(tmp_path: Path) -> None:
    site = copy_example("strategies", tmp_path)
    perseus_cli("build", cwd=site)
    served = read_build_id(site / "dist")
    server = Server(site, env=ENV)  # `perseus serve --no-build`
    try:
        assert server.get("/clock").status_code == 200
        perseus_cli("build", cwd=site)  # dist/ now holds another build, with its own store
        rebuilt = read_build_id(site / "dist")
        refused = perseus_cli("revalidate", "/clock", cwd=site, check=False)
        print(f"revalidate against a server of build {served}, dist/ of build {rebuilt}:"
              f" exit {refused.returncode}")
        assert refused.returncode == 1
        assert f"holds build {rebuilt}" in refused.stderr
        assert f"pid {server.process.pid} serves build {served}" in refused.stderr
        assert "restart it (`perseus serve --no-build`)" in refused.stderr
        assert "Nothing was marked" in refused.stderr
        assert "marked" not in refused.stdout and "Traceback" not in refused.stderr
    finally:
        os.killpg(server.process.pid, signal.SIGKILL)  # as a crash would: its record stays behind
        server.close()
    # A server that is gone no longer counts; the mark waits in the store of the new build.
    marked = perseus_cli("revalidate", "/clock", cwd=site)
    assert "marked /clock" in marked.stdout
    restarted = Server(site, env=ENV)
    try:
        built = version_of(restarted.get("/clock"))  # the new build's version, due: served once
        wait_for_new_version(restarted, "/clock", built)  # and regenerated
    finally:
        restarted.close()
