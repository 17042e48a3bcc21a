"""``perseus export``: the static export, its golden tree, its preview and its refusals.

Regenerate the golden tree after an intended change of output with
``PERSEUS_REGENERATE_GOLDEN=1 nox -s tests -- tests/test_export.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Request

from perseus import PerseusApp, Template
from perseus.client import runtime_path
from perseus.errors import ExportError
from perseus.stores.immutable import Dist
from tests.conftest import GOLDEN_EXPORT as GOLDEN
from tests.conftest import browser_page, copy_example, free_port, golden_form, perseus, tree

CLIENT = ".perseus/client.js"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_example("basic", tmp_path_factory.mktemp("export"))
    perseus("export", cwd=project)
    return project


def test_export_of_basic_matches_the_golden_tree(exported: Path) -> None:
    output = golden_form(tree(exported / "dist" / "exported"))
    if os.environ.get("PERSEUS_REGENERATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, body in output.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(body)
    golden = tree(GOLDEN)
    assert sorted(output) == sorted(golden), "the exported files differ from tests/golden/export-basic"
    changed = [name for name in golden if output[name] != golden[name]]
    assert not changed, (f"these exported files differ from tests/golden/export-basic: {changed}; if the"
                         " change is intended, rerun with PERSEUS_REGENERATE_GOLDEN=1")


def test_export_uses_one_path_scheme_and_leaks_no_build_id(exported: Path) -> None:
    files = tree(exported / "dist" / "exported")
    pages = sorted(name for name in files if name.endswith("index.html"))
    assert pages == ["about/index.html", "index.html", "post/first/index.html",
                     "post/index.html", "post/second/index.html", "search/index.html"]
    assert {".perseus/page/xx-XX/.json", ".perseus/page/xx-XX/post/first.json", ".perseus/client.js",
            ".perseus/static/style.css", "robots.txt", "404.html"} <= set(files)
    assert orjson.loads(files[".perseus/page/xx-XX/post/first.json"])["state"]["title"] == "The first post"
    assert b"Nothing here" in files["404.html"]
    build_id = Dist(exported / "dist").build_id.encode()
    # Pages name their build (the client's way to notice a deploy), and that is all.
    named = b'"build":"' + build_id + b'"'
    assert named in files["index.html"] and named in files[".perseus/page/xx-XX/.json"]
    assert not [name for name, body in files.items() if build_id in body.replace(named, b"")]


class Preview:
    """``perseus export --serve`` in a subprocess."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = project / f"preview-{self.port}.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", "perseus", "export", "--serve", "--port", str(self.port)],
                cwd=project, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                start_new_session=True,
            )
        self.client = httpx.Client(base_url=self.url, timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                self.client.get("/")
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"the preview did not start:\n{self.log.read_text()}")

    def close(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def preview_under_base_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    project = copy_example("basic", tmp_path_factory.mktemp("preview"))
    preview = Preview(project, {"PERSEUS_BASE_PATH": "/site/"})
    yield preview
    preview.close()


def test_export_under_a_base_path_links_and_loads_everything_below_it(
    preview_under_base_path: Preview
) -> None:
    client = preview_under_base_path.client
    home = client.get("/site/")
    assert home.status_code == 200
    assert f'<script type="module" src="/site{runtime_path()}"></script>' in home.text
    assert '"base":"/site"' in home.text  # the client runtime's meta.base
    assert 'href="/site/post/first"' in home.text
    about = client.get("/site/about")
    assert about.status_code == 301 and about.headers["location"] == "/site/about/"
    assert "<h1>About</h1>" in client.get("/site/about/").text
    data = client.get("/site/.perseus/page/xx-XX/.json")
    assert data.headers["content-type"].startswith("application/json")
    assert data.json()["state"]["greeting"] == "Welcome to perseus"
    second = client.get("/site/.perseus/page/xx-XX/post/second.json")
    assert second.json()["state"]["title"] == "Second thoughts"
    assert client.get("/site/.perseus/client.js").status_code == 200
    assert client.get(f"/site{runtime_path()}").status_code == 200
    assert "font-family" in client.get("/site/.perseus/static/style.css").text
    hashed = Dist(preview_under_base_path.project / "dist").render_conf["static"]["style.css"]["digest"]
    assert "font-family" in client.get(f"/site/.perseus/static/style.{hashed}.css").text
    assert client.get("/site/robots.txt").text.startswith("User-agent")


def test_preview_answers_missing_pages_with_the_404_page(preview_under_base_path: Preview) -> None:
    client = preview_under_base_path.client
    for path in ["/site/nope", "/about/", "/site/.perseus/static/", "/site/../etc/passwd"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Nothing here" in response.text


REFUSED_APP = """
    from perseus import PerseusApp, Template

    def view(ctx, state):
        return "<p>hi</p>"

    app = PerseusApp(
        templates=[
            Template("index", view=view),
            Template("live", view=view, request_state=lambda info, request: {"now": 1}),
            Template("feed", view=view, build_state=lambda info: {}, revalidate_after="1h", incremental=True),
        ],
        request_global_state=lambda request: {"user": None},
    )
"""


def write_app(folder: Path, source: str) -> Path:
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(source))
    return folder


def test_export_refuses_server_strategies_before_writing_anything(tmp_path: Path) -> None:
    project = write_app(tmp_path / "refused", REFUSED_APP)
    result = perseus("export", cwd=project, check=False)
    assert result.returncode != 0
    assert "template 'live' uses request_state (request state)" in result.stderr
    assert "template 'feed' uses revalidate_after (revalidation)" in result.stderr
    assert "template 'feed' uses incremental (incremental generation)" in result.stderr
    assert "global state uses request_global_state (request state)" in result.stderr
    assert "index" not in result.stderr
    assert "perseus deploy" in result.stderr
    assert not (project / "dist").exists()


def test_an_alias_clashing_with_a_page_is_refused(tmp_path: Path) -> None:
    project = write_app(tmp_path / "clash", """
        from perseus import PerseusApp, Template
        # A server answers /docs and /docs/guide; a folder of files cannot hold both.
        app = PerseusApp(templates=[Template("docs", view=lambda ctx, state: "<p>a</p>",
                                             build_paths=lambda: ["guide"])],
                         static_aliases={"/docs": "docs.txt"})
    """)
    (project / "docs.txt").write_text("docs")
    result = perseus("export", cwd=project, check=False)
    assert result.returncode != 0
    assert "/docs is both a file and a folder of the export (it holds /docs/guide/index.html)" \
        in result.stderr
    assert not (project / "dist" / "exported").exists()


def test_export_without_build_refuses_a_dist_built_for_another_base_path(exported: Path) -> None:
    result = perseus("export", "--no-build", cwd=exported, env={"PERSEUS_BASE_PATH": "/docs"}, check=False)
    assert result.returncode != 0
    assert "built for base path '/' but PERSEUS_BASE_PATH is '/docs'" in result.stderr


@pytest.fixture(scope="module")
def i18n_preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    project = copy_example("i18n", tmp_path_factory.mktemp("i18n-export"))
    preview = Preview(project, {"PERSEUS_BASE_PATH": "/site"})
    yield preview
    preview.close()


def test_an_i18n_export_has_every_locale_and_pages_that_choose_one(i18n_preview: Preview) -> None:
    files = tree(i18n_preview.project / "dist" / "exported")
    assert {"en-US/index.html", "fr-FR/index.html", "fr-FR/about/index.html", "fr-FR/post/first/index.html",
            ".perseus/page/fr-FR/about.json", ".perseus/page/en-US/.json", "en-US/404.html",
            "fr-FR/404.html", ".perseus/translations/fr-FR", "robots.txt"} <= set(files)
    assert files["404.html"] == files["en-US/404.html"]
    for path, target in [("index.html", "/site/en-US/"), ("about/index.html", "/site/en-US/about/")]:
        assert f'content="0; url={target}"'.encode() in files[path]
        assert b'"locales":["en-US","fr-FR"]' in files[path]
    french = i18n_preview.client.get("/site/fr-FR/about/")
    assert french.status_code == 200 and '<html lang="fr-FR">' in french.text
    assert i18n_preview.client.get("/site/.perseus/page/fr-FR/post/first.json").status_code == 200


def test_a_french_browser_lands_in_french_on_the_i18n_export(i18n_preview: Preview, browser: Browser) -> None:
    base = i18n_preview.url + "/site"
    with browser_page(browser, locale="fr-FR") as page:
        page.goto(base + "/about")  # the host's redirect to about/, then the locale page's
        page.wait_for_function("window.__perseus !== undefined")
        assert page.url == base + "/fr-FR/about/"
        assert page.title() == "À propos de ce site"
        with page.expect_response(lambda r: r.url == base + "/.perseus/page/fr-FR/post.json") as posts:
            page.click("nav >> text=Articles")
        assert posts.value.status == 200
        page.wait_for_function("document.title === 'Articles'")
        assert page.url == base + "/fr-FR/post"


def test_client_navigation_works_on_the_export_under_a_base_path(
    preview_under_base_path: Preview, browser: Browser
) -> None:
    base = preview_under_base_path.url + "/site"
    with browser_page(browser) as page:
        page.goto(base + "/")
        page.wait_for_function("window.__perseus !== undefined")
        page.evaluate("window.__same_document = true")
        documents: list[Request] = []
        page.on("request", lambda r: documents.append(r) if r.resource_type == "document" else None)
        with page.expect_response(lambda r: r.url == base + "/.perseus/page/xx-XX/about.json") as about:
            page.click("nav >> text=About")
        assert about.value.status == 200
        page.wait_for_function("document.title === 'About'")
        assert page.url == base + "/about"
        page.go_back()
        page.wait_for_function("document.title === 'Home'")
        assert page.evaluate("window.__same_document") is True
        assert documents == []


def test_logic_revalidation_alone_is_refused_too(tmp_path: Path) -> None:
    from perseus.builder.export import refuse_server_strategies

    news = Template("news", view=lambda ctx, state: "", build_state=lambda info: {},
                    should_revalidate=lambda info, request: True)
    app = PerseusApp(templates=[news], root=tmp_path)
    with pytest.raises(ExportError, match="template 'news' uses should_revalidate"):
        refuse_server_strategies(app)
