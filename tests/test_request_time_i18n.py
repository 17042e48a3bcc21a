"""Request-time strategies on an i18n site: every locale renders and generates its own pages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from perseus.testing import TestClient
from tests.conftest import perseus

APP = '''
from html import escape
from perseus import Locales, NotFound, PerseusApp, Template

def greet_state(info, request):
    return {"name": request.query.get("name", "?"), "locale": info.locale, "path": request.path}

def post_state(info):
    if info.path.startswith("missing"):
        raise NotFound()
    return {"slug": info.path, "locale": info.locale}

app = PerseusApp(
    templates=[
        Template("greet", view=lambda ctx, s: f"<h1>{escape(ctx.t('hello', name=s['name']))}</h1>",
                 request_state=greet_state),
        Template("post", view=lambda ctx, s: f"<h1>{escape(ctx.t('post', slug=s['slug']))}</h1>",
                 build_paths=lambda: ["a"], build_state=post_state, incremental=True),
    ],
    locales=Locales("en-US", ["fr-FR"]),
)
'''
TRANSLATIONS = {
    "en-US": {"hello": "Hello { $name }", "post": "Post { $slug }"},
    "fr-FR": {"hello": "Bonjour { $name }", "post": "Article { $slug }"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    project = tmp_path_factory.mktemp("i18n-strategies")
    (project / "app.py").write_text(APP)
    (project / "translations").mkdir()
    for locale, messages in TRANSLATIONS.items():
        (project / "translations" / f"{locale}.json").write_text(json.dumps(messages))
    with TestClient(project) as client:
        yield client


def test_request_state_renders_in_the_requested_locale(server: TestClient) -> None:
    french = server.get("/fr-FR/greet?name=Zoé")
    assert french.status_code == 200 and '<html lang="fr-FR"' in french.text
    assert "Bonjour" in french.text and "Zoé" in french.text
    assert server.get("/.perseus/page/en-US/greet.json?name=Al").json()["state"] == {
        "name": "Al", "locale": "en-US", "path": "/en-US/greet"}


def test_incremental_pages_are_generated_per_locale(server: TestClient) -> None:
    english = server.get("/en-US/post/new")
    french = server.get("/fr-FR/post/new")
    assert english.status_code == french.status_code == 200
    assert "Post new" in english.text and "Article new" in french.text
    assert server.get("/.perseus/page/fr-FR/post/new.json").json()["state"] == {
        "slug": "new", "locale": "fr-FR"}
    missing = server.get("/fr-FR/post/missing-1")
    assert missing.status_code == 404 and '<html lang="fr-FR"' in missing.text


def test_revalidate_names_pages_with_their_locale(server: TestClient) -> None:
    assert server.get("/en-US/post/kept").status_code == server.get("/fr-FR/post/kept").status_code == 200
    result = perseus("revalidate", "/fr-FR/post/kept", "/post/kept", "/en-US/post/a", cwd=server.project,
                     check=False)
    assert result.returncode == 1
    assert "marked /fr-FR/post/kept\n" in result.stdout
    assert "/post/kept: pages of this site are named with their locale, e.g. /en-US/post/kept" \
        in result.stderr
    assert "/en-US/post/a: prerendered by the build (template 'post'" in result.stderr
    everything = perseus("revalidate", "--template", "post", cwd=server.project)
    assert "marked /en-US/post/kept\n" in everything.stdout
    assert "marked /fr-FR/post/kept\n" in everything.stdout
    french = server.get("/fr-FR/post/kept")  # served stale, regenerated in the background
    assert french.status_code == 200 and "Article kept" in french.text
