"""Translations at build time: failures that name the id and locale, the JSON format, the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from perseus import ConfigurationError, Locales, RenderContext
from perseus.i18n import load_translator
from perseus.testing import TestClient
from tests.conftest import copy_example, perseus

FRENCH_JSON = {
    "nav-home": "Accueil", "nav-about": "À propos", "nav-posts": "Articles",
    "greeting": "Salut { $name } !", "post-count": "{ $count } articles",
    "about-title": "À propos", "about-body": "Deux langues.", "post-title": "Article { $slug }",
    "not-found": "Introuvable.", "error-title": "Page indisponible", "site-name": "Bilingue",
    "site-description": "Un site en deux langues.", "site-footer": "Fait avec perseus.",
    "post-body": "Un article.", "back-home": "Accueil",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example("i18n", tmp_path)


def failed_build(project: Path) -> str:
    result = perseus("build", cwd=project, check=False)
    assert result.returncode == 1
    assert not (project / "dist").exists()
    return result.stderr


def test_a_missing_translation_fails_the_build_naming_id_and_locale(project: Path) -> None:
    ftl = project / "translations" / "fr-FR.ftl"
    kept = [line for line in ftl.read_text().splitlines() if not line.startswith("about-body")]
    ftl.write_text("\n".join(kept))
    error = failed_build(project)
    assert "translation 'about-body' is missing in locale fr-FR" in error
    assert "template 'about'" in error
    assert "en-US" not in error  # the English pages built fine


def test_a_missing_locale_file_fails_the_build_naming_the_locale(project: Path) -> None:
    (project / "translations" / "fr-FR.ftl").unlink()
    error = failed_build(project)
    assert "no translations for locale fr-FR" in error
    assert "translations/fr-FR.ftl" in error


def test_invalid_fluent_and_a_missing_argument_fail_the_build(project: Path) -> None:
    ftl = project / "translations" / "fr-FR.ftl"
    ftl.write_text(ftl.read_text() + "broken = { $name\n")
    assert "translations/fr-FR.ftl" in failed_build(project)
    ftl.write_text(ftl.read_text().replace("broken = { $name\n", "").replace("{ $slug }", "{ $title }"))
    error = failed_build(project)
    assert "translation 'post-title' in locale fr-FR could not be formatted" in error
    assert "title" in error


def test_json_translations_are_the_lightweight_alternative(project: Path) -> None:
    (project / "translations" / "fr-FR.ftl").unlink()
    source = orjson.dumps(FRENCH_JSON)
    (project / "translations" / "fr-FR.json").write_bytes(source)
    with TestClient(project) as server:  # built and served in-process
        assert "<h1>Salut Ada !</h1>" in server.get("/fr-FR").text
        assert "<h1>Article first</h1>" in server.get("/fr-FR/post/first").text
        assert "<h1>Hello, \u2068Ada\u2069!</h1>" in server.get("/en-US").text  # Fluent beside JSON
        translations = server.get("/.perseus/translations/fr-FR")
        assert translations.headers["content-type"] == "application/json"
        assert translations.content == source
    shutil.rmtree(project / "dist")
    without_greeting = {k: v for k, v in FRENCH_JSON.items() if k != "greeting"}
    (project / "translations" / "fr-FR.json").write_bytes(orjson.dumps(without_greeting))
    assert "translation 'greeting' is missing in locale fr-FR" in failed_build(project)


def test_t_without_locales_is_a_build_error(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from perseus import PerseusApp, Template\n"
        "app = PerseusApp([Template('index', view=lambda ctx, s: ctx.t('hello'))])\n"
    )
    error = failed_build(tmp_path)
    assert "ctx.t('hello') was called but the app has no locales" in error


def test_json_placeholders_need_their_arguments(tmp_path: Path) -> None:
    (tmp_path / "de.json").write_text('{"hi": "Hallo {$name}, { $name }!", "list": [1]}')
    with pytest.raises(Exception, match="flat JSON object"):
        load_translator(tmp_path, "de")
    (tmp_path / "de.json").write_text('{"hi": "Hallo {$name}, { $name }!"}')
    translator = load_translator(tmp_path, "de")
    assert translator.translate("hi", {"name": "Ada"}) == "Hallo Ada, Ada!"
    with pytest.raises(Exception, match="needs the argument 'name'"):
        translator.translate("hi", {})


@pytest.mark.parametrize(
    ("default", "others", "message"),
    [
        ("en_US", [], "not a language tag"),
        ("en-US", ["fr-FR", "FR-fr"], "listed twice"),
        ("en-US", ["xx-XX"], "reserved"),
        ("en-US", "fr-FR", "must be a list"),
        ("en-US", ["../x"], "not a language tag"),
    ],
)
def test_locales_are_validated(default: str, others: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Locales(default, others)


def test_link_adds_base_path_and_locale() -> None:
    french = RenderContext("fr-FR", "", "index", base_path="/docs")
    assert french.link("about") == "/docs/fr-FR/about"
    assert french.link("/post/first") == "/docs/fr-FR/post/first"
    assert french.link("") == "/docs/fr-FR"
    plain = RenderContext("xx-XX", "", "index")
    assert plain.link("about") == "/about" and plain.link("") == "/"
