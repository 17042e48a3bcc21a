"""Page scripts and page data (issue 13, the server's half): every page names its build,
template and page scripts; the HTML embeds the state only where the client reads it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import Browser

from perseus import PerseusApp, Template
from perseus.errors import ConfigurationError
from perseus.stores.immutable import read_build_id
from perseus.testing import TestClient
from tests.conftest import Server, browser_page, perseus

SITE = '''
from perseus import NotFound, PerseusApp, Template

def view(ctx, state):
    return "<main><h1>" + ctx.template + "</h1></main>"

def echo(info, request):
    return {"query": dict(request.query)}

def fresh(info):
    return {"path": info.path}

def missing(info):
    raise NotFound()

app = PerseusApp(
    templates=[
        Template("index", view=view, build_state=lambda info: {"secret": "not embedded"}),
        Template("counter", view=view, build_state=lambda info: {"start": 3},
                 scripts=["counter.js", "js/log.mjs"]),
        Template("embedded", view=view, build_state=lambda info: {"mine": 1}, embed_state=True),
        Template("echo", view=view, request_state=echo, scripts=["counter.js"]),
        Template("stale", view=view, build_state=fresh, revalidate_after="1s"),
        Template("later", view=view, build_state=fresh, build_paths=lambda: [], incremental=True),
        Template("gone", view=view, build_state=missing, build_paths=lambda: [], incremental=True),
        Template("jinja", template="jinja.html", build_state=lambda info: {"n": 2}, scripts=["counter.js"]),
    ],
    error_views={404: lambda ctx, error: "<main><h1>Not here</h1></main>"},
    static_dir="static",
)
'''
COUNTER = "export function mount(root, page) { root.dataset.count = page.state.start; }\n"
PAGE_DATA = re.compile(r'<script id="__perseus_page" type="application/json">(.*?)</script>')
META = re.compile(r'<script id="__perseus_meta" type="application/json">(.*?)</script>')
STATE_SCRIPT = '<script id="__perseus_state"'


def write_site(project: Path) -> Path:
    (project / "static" / "js").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "app.py").write_text(SITE)
    (project / "static" / "counter.js").write_text(COUNTER)
    (project / "static" / "js" / "log.mjs").write_text("export function mount() {}\n")
    (project / "templates" / "jinja.html").write_text("<main><h1>{{ state.n }}</h1></main>")
    return project


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_site(tmp_path_factory.mktemp("page-scripts") / "site")


@pytest.fixture(scope="module")
def client(site: Path) -> Iterator[TestClient]:
    with TestClient(site) as client:
        yield client


def page_data(html: str) -> dict[str, object]:
    found = PAGE_DATA.search(html)
    assert found is not None, html
    return dict(orjson.loads(found.group(1)))


def meta(html: str) -> dict[str, object]:
    found = META.search(html)
    assert found is not None, html
    return dict(orjson.loads(found.group(1)))


def test_every_kind_of_page_names_the_build_it_belongs_to(client: TestClient, site: Path) -> None:
    build = read_build_id(site / "dist")
    assert build
    for path in ["/", "/counter", "/echo?x=1", "/stale", "/later/new", "/nope", "/gone/x"]:
        html = client.get(path)
        assert meta(html.text)["build"] == build, path
        data = client.get(f"/.perseus/page/xx-XX{path.partition('?')[0]}.json")
        assert data.json()["build"] == build, path
    time.sleep(1.1)  # /stale is due: its next answers come from regenerated versions
    for _ in range(2):
        assert client.get("/.perseus/page/xx-XX/stale.json").json()["build"] == build
        assert meta(client.get("/stale").text)["build"] == build


def test_page_data_names_the_template_and_its_hashed_scripts(client: TestClient) -> None:
    counter = page_data(client.get("/counter").text)
    assert counter["template"] == "counter"
    scripts = counter["scripts"]
    assert isinstance(scripts, list) and len(scripts) == 2
    assert re.fullmatch(r"/\.perseus/static/counter\.[0-9a-f]{8}\.js", scripts[0])
    assert re.fullmatch(r"/\.perseus/static/js/log\.[0-9a-f]{8}\.mjs", scripts[1])
    data = client.get("/.perseus/page/xx-XX/counter.json").json()
    assert (data["template"], data["scripts"], data["state"]) == ("counter", scripts, {"start": 3})
    assert page_data(client.get("/").text) == {"template": "index", "scripts": []}
    # A Jinja2 page names its scripts as a Python view's page does.
    assert page_data(client.get("/jinja").text) == {"template": "jinja", "scripts": scripts[:1]}


def test_error_pages_have_no_template_no_scripts_and_no_embedded_state(client: TestClient) -> None:
    for path in ["/nope", "/gone/x"]:
        html = client.get(path)
        assert html.status_code == 404
        assert page_data(html.text) == {"template": "", "scripts": []}
        assert STATE_SCRIPT not in html.text
        data = client.get(f"/.perseus/page/xx-XX{path}.json")
        assert data.status_code == 404
        body = data.json()
        assert (body["template"], body["scripts"]) == ("", [])
        assert body["error"] == {"status": 404, "message": "page not found"}
        assert "Not here" in body["content"]  # the error view, for a client navigation to show


def test_the_state_is_embedded_only_where_the_client_reads_it(client: TestClient) -> None:
    index = client.get("/").text
    assert STATE_SCRIPT not in index and "not embedded" not in index
    assert client.get("/.perseus/page/xx-XX/.json").json()["state"] == {"secret": "not embedded"}
    for path, state in [("/counter", {"start": 3}), ("/embedded", {"mine": 1}), ("/jinja", {"n": 2})]:
        found = re.search(r'<script id="__perseus_state" type="application/json">(.*?)</script>',
                          client.get(path).text)
        assert found is not None and orjson.loads(found.group(1)) == state, path
    echo = client.get("/echo?a=b").text
    echoed = re.search(r'__perseus_state" type="application/json">(.*?)</script>', echo)
    assert echoed is not None and orjson.loads(echoed.group(1)) == {"query": {"a": "b"}}


def test_the_base_path_is_in_the_script_urls(tmp_path: Path) -> None:
    with TestClient(write_site(tmp_path / "site"), env={"PERSEUS_BASE_PATH": "/blog"}) as client:
        scripts = page_data(client.get("/counter").text)["scripts"]
        assert isinstance(scripts, list)
        assert all(url.startswith("/blog/.perseus/static/") for url in scripts)
        assert meta(client.get("/counter").text)["base"] == "/blog"


def test_hashed_scripts_are_served_immutable_as_javascript_and_the_json_gets_the_query(site: Path) -> None:
    server = Server(site)
    try:
        html = server.get("/counter").text
        for url in page_data(html)["scripts"]:  # type: ignore[union-attr]
            answer = server.get(url)
            assert answer.status_code == 200, url
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert answer.headers["content-type"].startswith("text/javascript")
        assert server.get(page_data(html)["scripts"][0]).text == COUNTER  # type: ignore[index]
        data = server.get("/.perseus/page/xx-XX/echo.json?name=Ann&x=%C3%A9")
        assert data.json()["state"] == {"query": {"name": "Ann", "x": "é"}}
        assert data.headers["cache-control"] == "private, no-store"
        assert data.json()["scripts"] == page_data(html)["scripts"][:1]  # type: ignore[index]
    finally:
        server.close()


def test_the_export_writes_the_hashed_scripts(site: Path, tmp_path: Path) -> None:
    project = write_site(tmp_path / "exportable")
    app = (project / "app.py").read_text()
    for kind in ("echo", "stale", "later", "gone"):  # what a static host cannot serve
        app = re.sub(rf'\n        Template\("{kind}".*', "", app)
    (project / "app.py").write_text(app)
    perseus("export", cwd=project)
    exported = project / "dist" / "exported"
    html = (exported / "counter" / "index.html").read_text()
    for url in page_data(html)["scripts"]:  # type: ignore[union-attr]
        assert (exported / url.lstrip("/")).read_bytes() == (
            (project / "static" / "counter.js").read_bytes() if "counter" in url
            else (project / "static" / "js" / "log.mjs").read_bytes())
    assert orjson.loads((exported / ".perseus/page/xx-XX/counter.json").read_bytes())["template"] == "counter"


@pytest.mark.parametrize(("scripts", "message"), [
    ("counter.js", "scripts must be a list of file names, such as scripts=['counter.js']"),
    (["style.css"], "script 'style.css' is not an ES module of the static directory"),
    (["/counter.js"], "script '/counter.js' is not an ES module of the static directory"),
    (["../counter.js"], "script '../counter.js' has a '.' or '..' segment"),
    ([3], "script 3 is not an ES module of the static directory"),
])
def test_a_script_that_is_not_a_module_name_is_refused_by_the_template(scripts: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as refused:
        Template("page", view=lambda ctx, state: "", scripts=scripts)  # type: ignore[arg-type]
    assert refused.value.template == "page"


def test_a_missing_script_or_static_dir_is_refused_by_the_app(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    page = Template("page", view=lambda ctx, state: "", scripts=["menu.js"])
    with pytest.raises(ConfigurationError, match=re.escape(
            "template 'page': script 'menu.js' is not in the static directory (looked for"
            f" {tmp_path / 'static' / 'menu.js'}); create it or fix the name")):
        PerseusApp(templates=[page], static_dir="static", root=tmp_path)
    with pytest.raises(ConfigurationError, match=re.escape(
            "template 'page': scripts=['menu.js'] are files of the static directory, but the app has"
            " no static_dir")):
        PerseusApp(templates=[page], root=tmp_path)
    (tmp_path / "static" / "menu.js").write_text("export function mount() {}\n")
    PerseusApp(templates=[page], static_dir="static", root=tmp_path)
    with pytest.raises(ConfigurationError, match="embed_state must be True or False"):
        Template("page", view=lambda ctx, state: "", embed_state="yes")  # type: ignore[arg-type]


def test_perseus_build_reports_a_missing_script(tmp_path: Path) -> None:
    project = write_site(tmp_path / "broken")
    (project / "static" / "counter.js").unlink()
    result = perseus("build", cwd=project, check=False)
    assert result.returncode != 0
    assert "template 'counter': script 'counter.js' is not in the static directory" in result.stderr
    assert "Traceback" not in result.stderr



def test_the_search_example_filters_after_a_client_navigation(basic_server: Server, browser: Browser) -> None:
    """examples/basic's /search: its page script mounts after a navigation, and again after leaving."""
    with browser_page(browser) as page:
        page.goto(basic_server.url + "/")
        page.wait_for_function("window.perseus !== undefined")
        page.evaluate("window.__stayed = true")
        for _ in range(2):
            page.click("nav >> text=Search")
            page.wait_for_function("document.title === 'Search'")
            page.fill("#search-query", "second")
            page.wait_for_function("document.querySelector('#search-count').textContent === '1 of 2 posts'")
            assert page.locator("#search-results li:visible").all_inner_texts() == ["Second thoughts"]
            page.click("nav >> text=About")
            page.wait_for_function("document.title === 'About'")
        assert page.evaluate("window.__stayed") is True  # no full load on the way
