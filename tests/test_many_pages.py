"""A site of many pages served whole, and a dist/ of another format refused with a clear error."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from perseus.testing import TestClient
from tests.conftest import free_port, perseus

PAGES = 3_000
APP = '''
from perseus import PerseusApp, Template


def item_view(ctx, state):
    return f"<h1>Item {{state['n']}}</h1>" + "<p>padding text that compresses</p>" * (state["n"] % 40)


app = PerseusApp(templates=[
    Template("item", view=item_view, build_paths=lambda: [str(i) for i in range({count})],
             build_state=lambda info: {{"n": int(info.path)}},
             head=lambda ctx, state: f"<title>Item {{state['n']}}</title>"),
    Template("index", view=lambda ctx, state: "<h1>Home</h1>"),
])
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("many") / "site"
    site.mkdir()
    (site / "app.py").write_text(APP.format(count=PAGES))
    return site


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[TestClient]:
    with TestClient(project) as client:  # built in-process
        yield client


def check_page(server: TestClient, n: int) -> None:
    page = server.get(f"/item/{n}")
    assert page.status_code == 200, n
    assert f"<title>Item {n}</title>" in page.text and f"<h1>Item {n}</h1>" in page.text
    data = server.get(f"/.perseus/page/xx-XX/item/{n}.json")
    assert data.status_code == 200, n
    assert orjson.loads(data.content)["state"] == {"n": n}


def test_first_last_and_a_sample_of_many_pages(server: TestClient) -> None:
    sample = random.Random(3).sample(range(PAGES), 60)
    for n in [0, PAGES - 1, *sample, 0, PAGES - 1]:  # asked twice: first answer and kept answer
        check_page(server, n)
    assert server.get("/").text.count("<h1>Home</h1>") == 1
    assert server.get(f"/item/{PAGES}").status_code == 404


def test_each_page_answers_the_same_by_every_url_and_method(server: TestClient) -> None:
    canonical = server.get("/item/1234")
    for url in ["/item/1234/", "//item//1234", "/item/1234?x=1", "/item/1234"]:
        answer = server.get(url)
        assert (answer.status_code, answer.content) == (200, canonical.content), url
    head = server.head("/item/1234")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == canonical.headers["etag"]
    assert server.get("/item/1234", headers={"if-none-match": canonical.headers["etag"]}).status_code == 304


def test_a_dist_of_another_format_asks_for_a_rebuild(project: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "app.py").write_text((project / "app.py").read_text())
    # What perseus wrote before the packed index: format 1 with pages.json.
    (old / "dist").mkdir()
    (old / "dist" / "manifest.json").write_bytes(orjson.dumps({"format": 1, "build_id": "x", "pages": 1}))
    (old / "dist" / "pages.json").write_bytes(orjson.dumps({"pages": [], "errors": {}}))
    answer = subprocess.run([sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--port", "1"],
                            cwd=old, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 1
    assert "run `perseus build`" in answer.stderr and "format 1" in answer.stderr
    assert "Traceback" not in answer.stderr + answer.stdout
    perseus("build", cwd=old)  # and a rebuild replaces it
    assert orjson.loads((old / "dist" / "manifest.json").read_bytes())["format"] != 1


def test_serve_builds_first_and_stops_on_a_failed_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "app.py").write_text(APP.format(count=3).replace("int(info.path)", "1 // (int(info.path) - 2)"))
    failed = subprocess.run([sys.executable, "-P", "-m", "perseus", "serve", "--port", str(free_port())],
                            cwd=site, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "build failed" in failed.stderr
    assert not (site / "dist").exists()
    (site / "app.py").write_text(APP.format(count=3))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-P", "-m", "perseus", "serve", "--port", str(port)],
                               cwd=site, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/item/2", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail("perseus serve gave no answer within 30 s")
        assert "<h1>Item 2</h1>" in page.text
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)
