"""Request-time global state reaches every page: Perseus's ``global_state`` example served by
granian (and navigated in Chromium), and every strategy under ``request_global_state``
in-process, LMDB on disk."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Page

from perseus import ConfigurationError, PerseusApp, Template
from perseus.testing import TestClient, TestResponse
from tests.conftest import Server, perseus
from tests.global_state_site import MESSAGE, write_every_strategy_site, write_global_state_site
from tests.navigation_site import open_page, same_document
from tests.strategies import json_path
from tests.test_dev import WatchServer

PER_REQUEST = "private, no-store"


@pytest.fixture(scope="module")
def global_state_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = write_global_state_site(tmp_path_factory.mktemp("global-state") / "site")
    perseus("build", cwd=project)
    with closing(Server(project)) as server:
        yield server


def message_of(text: str) -> str:
    found = re.search(r'<p id="message">([^<]*)</p>', text)
    assert found, text
    return html.unescape(found.group(1))


@pytest.mark.parametrize("path", ["/", "/about"])
def test_a_full_load_shows_the_build_and_the_request_message(global_state_server: Server, path: str) -> None:
    response = global_state_server.get(path)
    assert response.status_code == 200
    assert message_of(response.text) == MESSAGE
    assert response.headers["cache-control"] == PER_REQUEST  # rendered for this request
    assert response.headers["x-perseus-cache"] == "BYPASS"


@pytest.mark.parametrize("path", ["/", "/about"])
def test_the_json_client_navigation_fetches_shows_both_messages_too(global_state_server: Server,
                                                                    path: str) -> None:
    response = global_state_server.get(json_path(path))
    assert response.status_code == 200
    assert message_of(response.json()["content"]) == MESSAGE
    assert response.headers["cache-control"] == PER_REQUEST
    assert response.headers["x-perseus-cache"] == "BYPASS"


def test_navigating_by_a_link_shows_the_message_on_the_about_page(global_state_server: Server,
                                                                  page: Page) -> None:
    open_page(page, global_state_server.url + "/")
    assert page.locator("p").inner_text() == MESSAGE
    page.click("#about-link")
    page.wait_for_function("document.title === 'About Page'")
    assert page.url == global_state_server.url + "/about"
    assert page.locator("p").inner_text() == MESSAGE
    assert same_document(page)  # the client fetched the page's JSON, no full load


def test_export_refuses_request_time_global_state(global_state_server: Server) -> None:
    result = perseus("export", "--no-build", cwd=global_state_server.project, check=False)
    assert result.returncode != 0
    assert "global state uses request_global_state" in result.stderr
    assert "global state uses amalgamate_global_states" in result.stderr
    assert not (global_state_server.project / "dist" / "exported").exists()


# --- every strategy under request_global_state ------------------------------------------------

@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(write_every_strategy_site(tmp_path_factory.mktemp("every-strategy") / "site")) as client:
        yield client


def visitor_of(text: str) -> str:
    body = re.search(r'<p id="visitor">([^<]*)</p>', text)
    head = re.search(r'<meta name="visitor" content="([^"]*)">', text)
    assert body and head, text
    assert body.group(1) == head.group(1), "head and body saw different global states"
    return body.group(1)


def state_of(text: str) -> str:
    found = re.search(r'<p id="state">([^<]*)</p>', text)
    assert found, text
    return html.unescape(found.group(1))


def json_of(response: TestResponse) -> str:
    data = response.json()
    return data["head"] + data["content"]


PAGES = [  # each strategy's page, with what its view shows of its own state
    ("/", "None"),  # no state
    ("/stateful", "{'built': True}"),  # build state
    ("/post/a", "{'path': 'a', 'source': 'cms'}"),  # build paths
    ("/clock", "{'tick': "),  # revalidating
    ("/docs/intro", "{'path': 'intro', 'source': 'docs'}"),  # built by an incremental template
    ("/docs/new", "{'path': 'new', 'source': 'docs'}"),  # generated on its first request
    ("/greet?name=Ann", "{'name': 'Ann'}"),  # request state
]


@pytest.mark.parametrize(("path", "state"), PAGES)
def test_every_page_gets_the_request_global_state_in_html_and_json(client: TestClient, path: str,
                                                                   state: str) -> None:
    for visitor in ("Zoe", "Ada"):  # one after the other: nothing kept from the last request
        page = client.get(path, headers={"X-Visitor": visitor})
        assert page.status_code == 200
        assert visitor_of(page.text) == visitor
        assert state_of(page.text).startswith(state)
        assert page.headers["cache-control"] == PER_REQUEST
        assert page.headers["x-perseus-cache"] == "BYPASS"
        assert "etag" not in page.headers
        page_path, _, query = path.partition("?")
        data_url = json_path(page_path) + (f"?{query}" if query else "")
        data = client.get(data_url, headers={"X-Visitor": visitor})
        assert data.status_code == 200
        assert visitor_of(json_of(data)) == visitor
        assert state_of(data.json()["content"]).startswith(state)
        assert data.headers["cache-control"] == PER_REQUEST
    assert visitor_of(client.get(path).text) == "nobody"


def test_a_revalidated_page_is_rendered_from_its_new_state_with_the_request_global_state(
        client: TestClient) -> None:
    first = state_of(client.get("/clock").text)
    time.sleep(1.1)  # past the interval: the next request starts a regeneration
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = client.get("/clock", headers={"X-Visitor": "Cy"})
        assert visitor_of(page.text) == "Cy"
        if state_of(page.text) != first:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"/clock still shows {first}")


def test_a_request_global_state_that_raises_is_the_error_view_and_logged(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    for path in ("/", "/post/a", "/clock", "/docs/intro", "/docs/other"):
        page = client.get(path, headers={"X-Fail": "1"})
        assert page.status_code == 500
        assert '<h1 id="error">500: the site could not answer</h1>' in page.text
        assert "visitor service" not in page.text  # no exception text reaches a visitor
        data = client.get(json_path(path), headers={"X-Fail": "1"})
        assert data.status_code == 500 and "visitor service" not in data.text
    assert "RuntimeError: the visitor service is down" in caplog.text
    assert visitor_of(client.get("/docs/other").text) == "nobody"  # its generation was kept


def test_the_dev_overlay_shows_where_request_global_state_raised(tmp_path: Path) -> None:
    project = write_every_strategy_site(tmp_path / "site")
    raising = (project / "app.py").read_text().splitlines().index(
        '        raise RuntimeError("the visitor service is down")') + 1
    watched = WatchServer(project)
    try:
        watched.wait_for_text("nobody")
        for path in ("/stateful", json_path("/stateful")):
            answer = watched.client.get(path, headers={"X-Fail": "1"})
            assert answer.status_code == 500
            assert "RuntimeError: the visitor service is down" in answer.text
            assert f"app.py:{raising} in request_global_state" in answer.text
    finally:
        watched.close()


def test_the_route_table_and_revalidate_know_every_page_is_rendered_per_request(tmp_path: Path) -> None:
    project = write_every_strategy_site(tmp_path / "site")
    out = perseus("build", cwd=project).stdout
    rows = {line.split()[1]: line.split() for line in out.splitlines()
            if line.startswith("  ") and len(line.split()) > 2 and line.split()[1].startswith("/")}
    for url in ("/", "/stateful", "/post/a", "/post/b", "/clock", "/docs/intro", "/greet"):
        assert rows[url][0] == "ƒ", out
        assert "request" in rows[url] or url == "/clock", out
    assert rows["/clock"][-2:] == ["per", "request"] and "1s" in rows["/clock"]
    assert rows["/docs/*"][0] == "◇"
    legend = [line for line in out.splitlines() if "request global state" in line]
    assert len(legend) == 1 and legend[0].split()[0] == "ƒ" and "request_global_state" in legend[0]
    marked = perseus("revalidate", "/", "/clock", cwd=project, check=False)
    assert marked.returncode == 1  # "/" cannot be marked: it is rendered for every request anyway
    assert "/: rendered on every request (template 'index')" in marked.stdout + marked.stderr
    assert "marked /clock" in marked.stdout


def test_only_build_time_global_state_still_serves_prerendered_bytes(tmp_path: Path) -> None:
    index = Template("index", view=lambda ctx, state: f"<p>{ctx.global_state['site']}</p>")
    app = PerseusApp(templates=[index], global_state=lambda: {"site": "Built"}, root=tmp_path)
    with TestClient(app) as client:
        for path in ("/", json_path("/")):
            page = client.get(path)
            assert page.status_code == 200 and "<p>Built</p>" in page.text
            assert page.headers["x-perseus-cache"] == "HIT"
            assert page.headers["cache-control"].startswith("public")
            assert "etag" in page.headers


def test_amalgamating_global_states_needs_both() -> None:
    index = Template("index", view=lambda ctx, state: "")
    merge = lambda build, request: 1  # noqa: E731
    with pytest.raises(ConfigurationError, match="needs both global_state and request_global_state"):
        PerseusApp(templates=[index], request_global_state=lambda request: 1, amalgamate_global_states=merge)
    with pytest.raises(ConfigurationError, match="needs both global_state and request_global_state"):
        PerseusApp(templates=[index], global_state=lambda: 1, amalgamate_global_states=merge)
