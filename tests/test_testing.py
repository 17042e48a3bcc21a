"""perseus.testing.TestClient itself: what it sends the engine, and what it keeps apart."""

from __future__ import annotations

import os
from pathlib import Path

import perseus
from perseus import PerseusApp, Template
from perseus.testing import TestClient
from tests.conftest import copy_example
from tests.conftest import perseus as perseus_cli
from tests.strategies import generations, version_of

SITE = '''
from perseus import PerseusApp, Template

def echo(info, request):
    return {"query": dict(request.query), "probe": request.headers.get("x-probe")}

app = PerseusApp(templates=[
    Template("index", view=lambda ctx, state: "<h1>{name}</h1>"),
    Template("echo", view=lambda ctx, state: "", request_state=echo),
])
'''


def write_site(project: Path, name: str) -> Path:
    project.mkdir()
    (project / "app.py").write_text(SITE.replace("{name}", name))
    return project


def test_two_sites_named_app_py_each_serve_their_own(tmp_path: Path) -> None:
    with TestClient(write_site(tmp_path / "a", "A")) as a, TestClient(write_site(tmp_path / "b", "B")) as b:
        assert "<h1>A</h1>" in a.get("/").text
        assert "<h1>B</h1>" in b.get("/").text


def test_requests_reach_the_engine_as_the_servers_send_them(tmp_path: Path) -> None:
    project = write_site(tmp_path / "site", "home")
    with TestClient(project, env={"TESTCLIENT_PROBE": "set"}) as client:
        assert os.environ["TESTCLIENT_PROBE"] == "set"
        state = client.get("/.perseus/page/xx-XX/echo.json?a=caf%C3%A9&b=1", params={"c": "é"},
                           headers={"X-Probe": "yes"}).json()["state"]
        assert state == {"query": {"a": "café", "b": "1", "c": "é"}, "probe": "yes"}
        assert client.get("/%ff").status_code == 400  # invalid UTF-8, decoded as the adapters do
        bad_json = client.get("/.perseus/page/xx-XX/%ff.json")
        assert bad_json.status_code == 400 and bad_json.json()["error"]["status"] == 400
        page = client.get("/")
        assert page.headers["Content-Type"] == page.headers["content-type"] == "text/html; charset=utf-8"
        head = client.head("/")
        assert (head.status_code, head.content) == (200, b"")
        assert client.request("DELETE", "/").status_code == 405
    assert "TESTCLIENT_PROBE" not in os.environ
    with TestClient(project, build=False) as again:  # the build there is
        assert "<h1>home</h1>" in again.get("/").text


def test_an_app_object_is_built_and_served(tmp_path: Path) -> None:
    app = PerseusApp(templates=[Template("index", view=lambda ctx, state: "<p>object</p>")], root=tmp_path)
    with TestClient(app) as client:
        assert "<p>object</p>" in client.get("/").text
    assert (tmp_path / "dist" / "manifest.json").is_file()


def test_wait_idle_waits_for_the_regeneration_a_request_started(tmp_path: Path) -> None:
    site = copy_example("strategies", tmp_path)
    with TestClient(site) as client:
        old = version_of(client.get("/news"))
        perseus.revalidate(site / "dist", ["/news"])
        assert version_of(client.get("/news")) == old  # stale, regenerating in the background
        client.wait_idle()
        assert version_of(client.get("/news")) != old
        assert len(generations(site, "news")) == 2
        marked = perseus_cli("revalidate", "/news", cwd=site)  # from another process, as on a server
        assert "marked /news" in marked.stdout
        new = version_of(client.get("/news"))
        client.wait_idle()
        assert version_of(client.get("/news")) != new
