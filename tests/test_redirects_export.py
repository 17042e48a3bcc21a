"""Redirects in ``perseus export`` (refresh pages), under a base path and with locales, and the
build's checks of fixed redirects against pages."""

from __future__ import annotations

import html
from pathlib import Path

import orjson
import pytest

from perseus.testing import TestClient
from tests.conftest import perseus

SITE = '''\
from perseus import Locales, PerseusApp, Redirect, Template

def moved(info):
    raise Redirect("/" + info.locale + "/new?from=moved" if info.locale != "xx-XX" else "/new?a=1&b=\\"2\\"",
                   status=301)

app = PerseusApp(
    templates=[Template("index", view=lambda ctx, s: "<h1>home</h1>"),
               Template("new", view=lambda ctx, s: "<h1>new</h1>"),
               Template("moved", view=lambda ctx, s: "never", build_state=moved)],
    redirects=REDIRECTS,
    LOCALES
)
'''


def write_site(project: Path, redirects: str, locales: str = "") -> Path:
    project.mkdir(parents=True)
    if locales:
        (project / "translations").mkdir()
        for locale in ("en-US", "fr-FR"):
            (project / "translations" / f"{locale}.json").write_text("{}")
    (project / "app.py").write_text(SITE.replace("REDIRECTS", redirects).replace("LOCALES", locales))
    return project


def refresh_target(page: bytes) -> str:
    text = page.decode()
    start = text.index('content="0; url=') + len('content="0; url=')
    target = html.unescape(text[start : text.index('"', start)])
    canonical = text.index('<link rel="canonical" href="') + len('<link rel="canonical" href="')
    assert html.unescape(text[canonical : text.index('"', canonical)]) == target
    return target


def test_export_writes_refresh_pages_below_the_base_path(tmp_path: Path) -> None:
    redirects = '{"/old": "/new", "/ext": Redirect("https://example.com/", external=True)}'
    project = write_site(tmp_path / "site", redirects)
    perseus("export", cwd=project, env={"PERSEUS_BASE_PATH": "/docs"})
    out = project / "dist" / "exported"
    moved = (out / "moved" / "index.html").read_bytes()
    assert refresh_target(moved) == '/docs/new?a=1&b=%222%22'
    assert b"&quot;" not in moved and b'"2"' not in moved  # encoded in the URL, then escaped
    assert orjson.loads((out / ".perseus/page/xx-XX/moved.json").read_bytes()) == {
        "redirect": "/docs/new?a=1&b=%222%22", "status": 301}
    assert refresh_target((out / "old" / "index.html").read_bytes()) == "/docs/new"
    assert refresh_target((out / "ext" / "index.html").read_bytes()) == "https://example.com/"
    assert b"<h1>new</h1>" in (out / "new" / "index.html").read_bytes()


def test_the_server_puts_the_base_path_in_front_of_site_targets(tmp_path: Path) -> None:
    project = write_site(tmp_path / "site", '{"/old": "/new"}')
    with TestClient(project, env={"PERSEUS_BASE_PATH": "/docs"}) as client:
        assert client.get("/old").headers["location"] == "/docs/new"
        assert client.get("/moved").headers["location"] == "/docs/new?a=1&b=%222%22"


def test_with_locales_sources_are_urls_as_visitors_see_them(tmp_path: Path) -> None:
    redirects = '{"/old": "/en-US/new", "/fr-FR/ancien": "/fr-FR/new", "/": "/fr-FR"}'
    project = write_site(tmp_path / "site", redirects, 'locales=Locales("en-US", ["fr-FR"]),')
    with TestClient(project) as client:
        # A locale-less source is answered before the locale redirect: one hop.
        old = client.get("/old", headers={"Accept-Language": "fr"})
        assert (old.status_code, old.headers["location"]) == (308, "/en-US/new")
        assert client.get("/fr-FR/ancien").headers["location"] == "/fr-FR/new"
        data = client.get("/.perseus/page/fr-FR/ancien.json").json()
        assert data == {"redirect": "/fr-FR/new", "status": 308}
        assert client.get("/").headers["location"] == "/fr-FR"
        moved = client.get("/fr-FR/moved")
        assert (moved.status_code, moved.headers["location"]) == (301, "/fr-FR/new?from=moved")
        assert client.get("/en-US/moved").headers["location"] == "/en-US/new?from=moved"
        # A page of another locale is still reached through the locale redirect.
        assert client.get("/moved", headers={"Accept-Language": "fr"}).headers["location"] == "/fr-FR/moved"
    perseus("export", cwd=project)
    out = project / "dist" / "exported"
    assert refresh_target((out / "fr-FR" / "moved" / "index.html").read_bytes()) == "/fr-FR/new?from=moved"
    assert refresh_target((out / "old" / "index.html").read_bytes()) == "/en-US/new"
    assert refresh_target((out / "index.html").read_bytes()) == "/fr-FR"  # not the locale chooser
    assert b"navigator.languages" in (out / "moved" / "index.html").read_bytes()


@pytest.mark.parametrize("source", ["/new", "/new/"])
def test_a_fixed_redirect_hiding_a_page_fails_the_build(tmp_path: Path, source: str) -> None:
    project = write_site(tmp_path / "site", f'{{"{source}": "/elsewhere"}}')
    result = perseus("build", cwd=project, check=False)
    assert result.returncode == 1
    assert "page '/new' is also a source of PerseusApp(redirects=...)" in result.stderr


def test_a_chain_is_refused_when_the_app_is_loaded(tmp_path: Path) -> None:
    project = write_site(tmp_path / "site", '{"/a": "/b", "/b": "/new"}')
    result = perseus("build", cwd=project, check=False)
    assert result.returncode != 0
    assert "redirects chain: /a -> /b" in result.stderr
