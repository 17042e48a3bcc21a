"""Plugins (``PerseusApp(plugins=[...])``): the port of Perseus's ``plugins`` example, the
hooks' order and errors, and the first-party Sitemap, Feed and HeadTags."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from perseus import Locales, PerseusApp, Template
from perseus.errors import BuildError, ConfigurationError
from perseus.plugins import Feed, HeadTags, Plugin, Sitemap
from perseus.testing import TestClient
from tests.conftest import Server, perseus
from tests.plugins_site import PLUGINS_APP, write_plugins_site

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
ATOM = "{http://www.w3.org/2005/Atom}"
BOUNDARY = '<meta itemprop="__perseus_head_boundary" content="">'
GREETING = '<script>console.log("Hello from the test plugin!")</script>'


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    with TestClient(write_plugins_site(tmp_path_factory.mktemp("plugins") / "site")) as client:
        yield client


def test_the_plugins_example_renders_as_perseus_asserts(example: TestClient) -> None:
    page = example.get("/")
    assert page.status_code == 200
    assert "Hello World!" in page.text
    title = page.text.split("<title>")[1].split("</title>")[0]
    assert "Index Page" in title


def test_the_plugins_static_alias_is_served(example: TestClient) -> None:
    answer = example.get("/pyproject.toml")
    assert answer.status_code == 200
    assert 'name = "plugins-example"' in answer.text


@pytest.mark.parametrize("url", ["/", "/about", "/post/first", "/no-such-page"])
def test_insertions_are_in_every_page_where_the_client_keeps_them(example: TestClient, url: str) -> None:
    html = example.get(url).text
    head, body = html.split("</head>")
    template = {"/": "index", "/about": "about", "/post/first": "post"}.get(url, "error")
    mine = f'<meta name="test-plugin" content="{template} xx-XX">'
    verification = '<meta name="google-site-verification" content="abc123">'
    # Before the head boundary, in plugin order: the client swaps only what follows it.
    assert head.index(mine) < head.index(verification) < head.index(BOUNDARY)
    # The greeting after perseus's scripts, at the very end of the body.
    assert body.index('src="/.perseus/client.') < body.index(GREETING)
    assert body.endswith(GREETING + "</body></html>\n")


def test_the_page_json_does_not_carry_the_insertions(example: TestClient) -> None:
    data = example.get("/.perseus/page/xx-XX/about.json").json()
    assert data["head"] == "<title>About Page</title>"
    assert "test-plugin" not in str(data) and "console.log" not in str(data)


def test_build_hooks_run_in_plugin_order_around_the_build(example: TestClient) -> None:
    calls = (example.project / "calls.log").read_text().splitlines()
    assert calls == ["before_build plugins-example", "second before_build", "after_build 5",
                     "second after_build"]
    written = example.get("/build.json")
    assert written.status_code == 200
    assert written.json()["build"] in example.get("/").text  # the build the pages belong to


def test_the_sitemap_lists_every_built_page(example: TestClient) -> None:
    answer = example.get("/sitemap.xml")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(answer.content)
    assert root.tag == f"{SITEMAP}urlset"
    locs = [url.findtext(f"{SITEMAP}loc") for url in root.findall(f"{SITEMAP}url")]
    assert locs == ["https://example.com/", "https://example.com/about", "https://example.com/post/first",
                    "https://example.com/post/second", "https://example.com/post/third"]
    robots = example.get("/robots.txt")
    assert robots.status_code == 200
    assert "Sitemap: https://example.com/sitemap.xml" in robots.text.splitlines()


def test_the_feed_is_atom_newest_first_limited_and_escaped(example: TestClient) -> None:
    root = ET.fromstring(example.get("/feed.xml").content)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}title") == "Posts & news"
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "https://example.com/feed.xml"  # type: ignore[union-attr]
    entries = root.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == ["Post <second>", "Post <first>"]
    assert [entry.findtext(f"{ATOM}id") for entry in entries] == ["https://example.com/post/second",
                                                                  "https://example.com/post/first"]
    assert root.findtext(f"{ATOM}updated") == "2024-03-04T10:00:00+00:00"
    assert entries[1].findtext(f"{ATOM}updated") == "2024-01-02T00:00:00+00:00"


def test_shells_are_made_once_not_per_request(tmp_path: Path) -> None:
    calls: list[str] = []

    class Counting(Plugin):
        name = "counting"

        def head(self, ctx: object) -> str:
            calls.append("head")
            return "<meta name=counted>"

    app = PerseusApp([Template("index", view=lambda ctx, state: "hi"),
                      Template("other", view=lambda ctx, state: "hi", request_state=lambda info, req: {})],
                     plugins=[Counting()], root=tmp_path)
    with TestClient(app) as client:
        client.get("/other")
        client.get("/missing")
        made = len(calls)
        for _ in range(5):
            for url in ("/", "/other", "/missing"):
                assert "<meta name=counted>" in client.get(url).text
        assert len(calls) == made  # request-state pages and error pages reuse their shell


def test_an_i18n_sitemap_has_hreflang_alternates(tmp_path: Path) -> None:
    (tmp_path / "translations").mkdir()
    for locale in ("en-US", "fr-FR"):
        (tmp_path / "translations" / f"{locale}.json").write_text("{}")
    app = PerseusApp([Template("index", view=lambda ctx, state: "hi"),
                      Template("post", view=lambda ctx, state: "hi", build_paths=lambda: ["a b"])],
                     locales=Locales("en-US", ["fr-FR"]), root=tmp_path,
                     plugins=[Sitemap(base_url="https://example.com/site/")])
    with TestClient(app) as client:
        root = ET.fromstring(client.get("/sitemap.xml").content)
    urls = root.findall(f"{SITEMAP}url")
    assert [url.findtext(f"{SITEMAP}loc") for url in urls] == [
        "https://example.com/site/en-US", "https://example.com/site/fr-FR",
        "https://example.com/site/en-US/post/a%20b", "https://example.com/site/fr-FR/post/a%20b"]
    for url in urls:
        alternates = {link.get("hreflang"): link.get("href") for link in url.findall(f"{XHTML}link")}
        assert set(alternates) == {"en-US", "fr-FR", "x-default"}
        assert url.findtext(f"{SITEMAP}loc") in alternates.values()
        assert alternates["x-default"] in ("https://example.com/site/", "https://example.com/site/post/a%20b")


class Failing(Plugin):
    name = "failing"

    def __init__(self, hook: str) -> None:
        def fail(argument: object) -> None:
            raise RuntimeError(f"{hook} went wrong")
        setattr(self, hook, fail)


@pytest.mark.parametrize("hook", ["before_build", "after_build"])
def test_a_hook_error_fails_the_build_naming_the_plugin(tmp_path: Path, hook: str) -> None:
    app = PerseusApp([Template("index", view=lambda ctx, state: "hi")], plugins=[Failing(hook)],
                     root=tmp_path)
    with pytest.raises(BuildError) as raised:
        TestClient(app)
    message = str(raised.value)
    assert "plugin failing" in message and hook in message and f"{hook} went wrong" in message
    assert not (tmp_path / "dist").exists()  # nothing of the failed build is kept


def test_the_cli_names_the_failing_plugin(tmp_path: Path) -> None:
    source = PLUGINS_APP.replace('note(f"before_build {project}")', 'raise ValueError("no toml today")')
    project = write_plugins_site(tmp_path / "site", source)
    result = perseus("build", cwd=project, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "plugin test-plugin" in output and "before_build" in output and "no toml today" in output


class Aliasing(Plugin):
    name = "aliasing"

    def static_aliases(self) -> dict[str, str]:
        return {"/robots.txt": "app.py"}


def _app(tmp_path: Path, **options: object) -> PerseusApp:
    (tmp_path / "app.py").write_text("")
    return PerseusApp([Template("index", view=lambda ctx, state: "")], root=tmp_path, **options)  # type: ignore[arg-type]


class Named(Plugin):
    def __init__(self, name: str, **hooks: object) -> None:
        self.name = name
        for hook, value in hooks.items():
            setattr(self, hook, value)


@pytest.mark.parametrize(("options", "expected"), [
    ({"plugins": [Aliasing()], "static_aliases": {"/robots.txt": "app.py"}},
     "plugin 'aliasing' adds the static alias '/robots.txt'"),
    ({"plugins": [Named("t", templates=lambda: [Template("index", view=lambda c, s: "")])]},
     "plugin 't' adds a template named 'index'"),
    ({"plugins": [Named("r", routes=lambda: {"/api": lambda *a: None})], "mounts": {"/api": lambda *a: None}},
     "plugin 'r' adds the route '/api'"),
    ({"plugins": [Named("same"), Named("same")]}, "two plugins are named 'same'"),
    ({"plugins": [Named("")]}, "has no name"),
    ({"plugins": [Named("x", head="<meta>")]}, "plugin 'x': head must be a method"),
    ({"plugins": [Named("x", page_states=["nope"])]}, "page_states names templates the app does not have"),
    ({"plugins": [Feed(template="post", title="T", base_url="https://example.com")]},
     "Feed: the app has no template 'post'"),
    ({"plugins": [Named("s", static_aliases=lambda: {"/x": "missing.txt"})]},
     "static alias '/x': file 'missing.txt' does not exist"),
    ({"plugins": [Named("bad", routes=lambda: 1 / 0)]}, "plugin 'bad': routes(): raised ZeroDivisionError"),
])
def test_plugins_are_checked_when_the_app_is_constructed(tmp_path: Path, options: dict[str, object],
                                                         expected: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _app(tmp_path, **options)
    assert expected in str(raised.value)


def test_an_insertion_that_is_not_html_text_fails_the_build(tmp_path: Path) -> None:
    app = _app(tmp_path, plugins=[Named("numbers", body_end=lambda ctx: 42)])
    with pytest.raises(BuildError) as raised:
        TestClient(app)
    assert "plugin 'numbers': body_end() must return HTML text" in str(raised.value)


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: Sitemap(base_url="example.com"), "must be an absolute http(s) URL"),
    (lambda: Sitemap(base_url="https://example.com/?q=1"), "without query or fragment"),
    (lambda: Feed(template="post", title="", base_url="https://example.com"), "title"),
    (lambda: Feed(template="post", title="T", base_url="https://example.com", limit=0), "limit"),
    (lambda: HeadTags(), "at least one tag"),
    (lambda: HeadTags("</head><body>"), "would end the <head> early"),
])
def test_first_party_plugins_check_their_settings(make: object, expected: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make()  # type: ignore[operator]
    assert expected in str(raised.value)


def test_a_feed_page_without_a_date_fails_the_build_naming_it(tmp_path: Path) -> None:
    app = PerseusApp([Template("index", view=lambda ctx, state: ""),
                      Template("post", view=lambda ctx, state: "", build_paths=lambda: ["a", "b"],
                               build_state=lambda info: {"title": info.path} if info.path == "b"
                               else {"title": "a", "date": "2024-01-01"})],
                     plugins=[Feed(template="post", title="T", base_url="https://example.com")],
                     root=tmp_path)
    with pytest.raises(BuildError) as raised:
        TestClient(app)
    assert "plugin feed" in str(raised.value) and "page /post/b" in str(raised.value)


def test_head_tags_can_leave_error_pages_alone(tmp_path: Path) -> None:
    app = _app(tmp_path, plugins=[HeadTags("<meta name=a>", error_pages=False)])
    with TestClient(app) as client:
        assert "<meta name=a>" in client.get("/").text
        assert "<meta name=a>" not in client.get("/missing").text


def test_plugin_files_are_served_by_granian_and_exported(tmp_path: Path) -> None:
    project = write_plugins_site(tmp_path / "site")
    perseus("build", cwd=project)
    server = Server(project)
    try:
        sitemap = server.get("/sitemap.xml")
        assert sitemap.status_code == 200
        assert ET.fromstring(sitemap.content).tag == f"{SITEMAP}urlset"
        assert "Sitemap: https://example.com/sitemap.xml" in server.get("/robots.txt").text
        assert server.get("/pyproject.toml").status_code == 200
    finally:
        server.close()
    perseus("export", cwd=project)
    exported = project / "dist" / "exported"
    assert (exported / "sitemap.xml").read_bytes() == sitemap.content
    assert (exported / "feed.xml").is_file() and (exported / "robots.txt").is_file()
    assert (exported / "pyproject.toml").read_text() == (project / "pyproject.toml").read_text()


async def _hello_api(scope: dict[str, object], receive: object, send: object) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"api " + str(scope["path"]).encode()})  # type: ignore[operator]


def test_a_plugins_templates_and_routes_are_served(tmp_path: Path) -> None:
    class Adding(Plugin):
        name = "adding"

        def templates(self) -> list[Template]:
            return [Template("added", view=lambda ctx, state: "<p>from the plugin</p>")]

        def routes(self) -> dict[str, object]:
            return {"/api": _hello_api}

    (tmp_path / "app.py").write_text("")
    app = PerseusApp([Template("index", view=lambda ctx, state: "hi")], plugins=[Adding()], root=tmp_path)
    with TestClient(app) as client:
        assert "<p>from the plugin</p>" in client.get("/added").text
        answer = client.get("/api/ping")
        assert answer.status_code == 200
        assert answer.text.startswith("api ") and answer.text.endswith("/ping")
