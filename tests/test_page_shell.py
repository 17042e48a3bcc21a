"""What a checker (Lighthouse, axe) looks for in every page perseus sends: ``<html lang>``, a
``<title>``, exactly one ``<main>`` landmark (on error pages too, built-in or the app's view), a
favicon link when the static directory has one, and no console error in Chromium without one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from perseus import ConfigurationError, Locales, PerseusApp, Template
from perseus.testing import TestClient, TestResponse
from tests.conftest import Server, browser_page, copy_example

MAIN = re.compile(r"<main[\s>]")

SITE = '''\
from perseus import HTTPError, PerseusApp, Template


def gone(info, request):
    raise HTTPError(410)


def broken(info, request):
    raise RuntimeError("the data source is down")


app = PerseusApp(
    templates=[Template("index", view=lambda ctx, state: "<main><h1>Home</h1></main>",
                        head=lambda ctx, state: "<title>Home</title>"),
               Template("gone", view=lambda ctx, state: "", request_state=gone),
               Template("broken", view=lambda ctx, state: "", request_state=broken)],
    # 404 without a main of its own, 410 with one, 500 with none at all (the built-in page).
    error_views={404: lambda ctx, error: "<h1>Lost</h1>",
                 410: lambda ctx, error: "<nav><a href='/'>Home</a></nav><main><h1>Gone</h1></main>"},
    static_dir="static",
    lang="pt-BR",
)
'''


def audited(response: TestResponse, lang: str) -> None:
    """``response`` is a whole page in ``lang`` with a title and exactly one main landmark."""
    html = response.text
    assert re.match(rf'<!DOCTYPE html>\n<html lang="{lang}">', html), html[:80]
    assert re.search(r"<title>[^<]+</title>", html), "no title"
    assert len(MAIN.findall(html)) == 1, f"not exactly one <main>: {html}"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.count('rel="icon"') == 1


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("shell") / "site"
    (project / "static").mkdir(parents=True)
    (project / "static" / "favicon.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    (project / "app.py").write_text(SITE)
    return project


@pytest.fixture(scope="module")
def client(site: Path) -> Iterator[TestClient]:
    with TestClient(site) as client:
        yield client


def test_pages_and_error_pages_have_lang_title_and_one_main(client: TestClient) -> None:
    for path, status in (("/", 200), ("/nowhere", 404), ("/gone", 410), ("/broken", 500)):
        response = client.get(path)
        assert response.status_code == status, path
        audited(response, "pt-BR")
    assert "<main><h1>Lost</h1></main>" in client.get("/nowhere").text  # the view, put in one
    assert "<main><h1>500</h1><p>internal server error</p></main>" in client.get("/broken").text
    assert "<title>500 internal server error</title>" in client.get("/broken").text
    # The client runtime swaps #root's content with the JSON's: its error pages match.
    assert client.get("/.perseus/page/xx-XX/nowhere.json").status_code == 404


def test_the_favicon_of_the_static_directory_is_linked_fingerprinted(client: TestClient) -> None:
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/png">', client.get("/").text)
    assert link, "no favicon link"
    assert re.fullmatch(r"/\.perseus/static/favicon\.[0-9a-f]{8}\.png", link.group(1))
    icon = client.get(link.group(1))
    assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")
    assert link.group(0) in client.get("/broken").text  # error pages too


def test_the_favicon_url_has_the_base_path(site: Path, tmp_path: Path) -> None:
    with TestClient(site, dist=tmp_path / "dist", env={"PERSEUS_BASE_PATH": "/docs"}) as client:
        assert re.search(r'<link rel="icon" href="/docs/\.perseus/static/favicon\.[0-9a-f]{8}\.png"',
                         client.get("/").text)


def test_every_example_page_passes(basic_client: TestClient, i18n_client: TestClient,
                                   tmp_path: Path) -> None:
    for path in ("/", "/about", "/post", "/post/first", "/post/second", "/missing"):
        audited(basic_client.get(path), "en")
        assert '<meta name="description" content="' in basic_client.get(path).text
    for locale in ("en-US", "fr-FR"):
        for path in ("", "/about", "/post", "/post/first", "/missing"):
            audited(i18n_client.get(f"/{locale}{path}"), locale)
    with TestClient(copy_example("strategies", tmp_path)) as strategies:
        for path in ("/", "/greet?name=Ada", "/merged?q=tea", "/clock", "/news", "/post/a", "/post/new",
                     "/missing", "/post/boom"):
            audited(strategies.get(path), "en")


def test_lang_defaults_and_validation(tmp_path: Path) -> None:
    index = [Template("index", view=lambda ctx, state: "")]
    assert PerseusApp(index, root=tmp_path).lang == "en"
    assert PerseusApp(index, root=tmp_path, locales=Locales("fr-FR", ["en-US"])).lang == "fr-FR"
    assert PerseusApp(index, root=tmp_path, lang="zh-Hant-TW").lang == "zh-Hant-TW"
    for bad in ("", "english!", "en US", 'en"><script>alert(1)</script>', "e", 42):
        with pytest.raises(ConfigurationError, match="is not a language tag"):
            PerseusApp(index, root=tmp_path, lang=bad)  # type: ignore[arg-type]


def test_a_custom_shell_keeps_its_own_lang_and_icon(tmp_path: Path) -> None:
    shell = ('<!DOCTYPE html><html lang="de"><head><link rel="icon" href="/mine.ico"></head>'
             '<body><div id="root"></div></body></html>')
    app = PerseusApp([Template("index", view=lambda ctx, state: "<main>Hallo</main>")], root=tmp_path,
                     shell=shell)
    with TestClient(app) as client:
        html = client.get("/").text
    assert html.startswith('<!DOCTYPE html><html lang="de"><head><link rel="icon" href="/mine.ico">')
    assert html.count("lang=") == 1 and html.count('rel="icon"') == 1


def test_no_favicon_means_no_request_and_no_console_error(i18n_server: Server, browser: Browser) -> None:
    """examples/i18n has no favicon: the page says so (``data:,``), so Chromium asks for none."""
    with browser_page(browser) as page:
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
        page.goto(i18n_server.url + "/en-US")
        page.wait_for_function("window.__perseus !== undefined")
        page.wait_for_timeout(500)  # a favicon is fetched after the load event
        assert page.locator('link[rel="icon"]').get_attribute("href") == "data:,"
        assert problems == []


def test_a_navigation_keeps_the_stylesheet_both_pages_link(basic_server: Server, browser: Browser) -> None:
    """The client swaps the head, but the same stylesheet link stays: no flash of unstyled page."""
    with browser_page(browser) as page:
        page.goto(basic_server.url + "/")
        page.wait_for_function("window.__perseus !== undefined")
        page.evaluate("document.querySelector('link[rel=stylesheet]').__kept = true")
        page.click("nav >> text=About")
        page.wait_for_function("document.title === 'About'")
        assert page.evaluate("document.querySelector('link[rel=stylesheet]').__kept") is True
        assert page.locator('meta[name="description"]').count() == 1
        assert page.locator('meta[name="description"]').get_attribute("content") == (
            "What this site is and how it is built.")
        assert page.locator("link[rel=stylesheet]").count() == 1
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")
