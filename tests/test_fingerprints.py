"""Fingerprinted URLs through real granian: ``ctx.static`` links a hashed name served
``immutable``, the plain name is revalidated on every use, a hashed name that is not the
file's current content is a 404, the client runtime is loaded by its hashed name, and a
page asking for a file the static directory lacks fails the build, naming both."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perseus.client import runtime_path
from perseus.http.fingerprints import fingerprinted
from perseus.testing import TestClient
from tests.conftest import Server, perseus

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=0, must-revalidate"

SITE = '''\
from perseus import PerseusApp, Template


def head(ctx, state):
    return (f'<link rel="stylesheet" href="{ctx.static("style.css")}">'
            f'<script src="{ctx.static("/js/app.min.js")}"></script>'
            f'<link rel="license" href="{ctx.static("LICENSE")}">')


app = PerseusApp(templates=[Template("index", view=lambda ctx, state: "<h1>Home</h1>", head=head),
                            Template("greet", view=lambda ctx, state: ctx.static("style.css"),
                                     request_state=lambda info, request: None)],
                 static_dir="static")
'''


def write_site(project: Path) -> None:
    (project / "static" / "js").mkdir(parents=True)
    (project / "static" / "style.css").write_text("body { color: teal }\n")
    (project / "static" / "js" / "app.min.js").write_text("console.log('hi')\n")
    (project / "static" / "LICENSE").write_text("MIT\n")
    (project / "app.py").write_text(SITE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("fingerprints") / "site"
    project.mkdir()
    write_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    served = Server(site)
    yield served
    served.close()


def linked(page: str) -> list[str]:
    """The URLs a page links, but for the shell's icon link (``data:,`` here: no favicon)."""
    return [url for url in re.findall(r'(?:href|src)="([^"]+)"', page) if url != "data:,"]


def test_ctx_static_links_hashed_names_served_immutable(server: Server) -> None:
    page = server.get("/").text
    style, script, license_, _client = linked(page)
    assert re.fullmatch(r"/\.perseus/static/style\.[0-9a-f]{8}\.css", style)
    assert re.fullmatch(r"/\.perseus/static/js/app\.min\.[0-9a-f]{8}\.js", script)
    assert re.fullmatch(r"/\.perseus/static/LICENSE\.[0-9a-f]{8}", license_)
    for url, content in ((style, "color: teal"), (script, "console.log"), (license_, "MIT")):
        answer = server.get(url)
        assert answer.status_code == 200 and content in answer.text
        assert answer.headers["cache-control"] == IMMUTABLE
        again = server.get(url, headers={"if-none-match": answer.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE
    # A page rendered per request links the same name.
    assert f"<div id=\"root\">{style}</div>" in server.get("/greet").text


def test_the_plain_name_keeps_working_with_a_short_lifetime(server: Server) -> None:
    answer = server.get("/.perseus/static/style.css")
    assert answer.status_code == 200 and "color: teal" in answer.text
    assert answer.headers["cache-control"] == SHORT
    assert server.get("/.perseus/static/style.css",
                      headers={"if-none-match": answer.headers["etag"]}).status_code == 304


def test_a_hash_that_is_not_the_files_is_a_404(server: Server) -> None:
    assert server.get("/.perseus/static/style.00000000.css").status_code == 404
    assert server.get("/.perseus/static/style.3f2a9c1e.css").status_code == 404


def test_the_client_runtime_is_loaded_by_its_hashed_name(server: Server) -> None:
    page = server.get("/").text
    assert linked(page)[-1] == runtime_path()
    hashed = server.get(runtime_path())
    assert hashed.status_code == 200 and hashed.headers["cache-control"] == IMMUTABLE
    plain = server.get("/.perseus/client.js")
    assert plain.content == hashed.content and plain.headers["cache-control"] == SHORT


def test_a_file_changed_after_the_build_is_not_served_under_its_old_hash(tmp_path: Path) -> None:
    write_site(tmp_path)
    perseus("build", cwd=tmp_path)
    server = Server(tmp_path)
    try:
        style = linked(server.get("/").text)[0]
        assert server.get(style).status_code == 200
        time.sleep(0.01)
        (tmp_path / "static" / "style.css").write_text("body { color: red }\n")
        assert server.get(style).status_code == 404  # immutable: never another content under it
        assert "color: red" in server.get("/.perseus/static/style.css").text
        # Touched but the same content: still its hash.
        (tmp_path / "static" / "style.css").write_text("body { color: teal }\n")
        assert server.get(style).status_code == 200
    finally:
        server.close()


def test_the_base_path_is_part_of_the_url(tmp_path: Path) -> None:
    write_site(tmp_path)
    with TestClient(tmp_path, env={"PERSEUS_BASE_PATH": "/docs"}) as client:
        style = linked(client.get("/").text)[0]
        assert re.fullmatch(r"/docs/\.perseus/static/style\.[0-9a-f]{8}\.css", style)
        # Behind the proxy that strips /docs, the server answers the rest.
        answer = client.get(style.removeprefix("/docs"))
        assert answer.status_code == 200 and answer.headers["cache-control"] == IMMUTABLE


def test_a_missing_static_file_fails_the_build_naming_page_and_file(tmp_path: Path) -> None:
    write_site(tmp_path)
    (tmp_path / "app.py").write_text(SITE.replace('"style.css")}">', '"missing.css")}">'))
    done = perseus("build", cwd=tmp_path, check=False)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "index" in said and "missing.css" in said and "static directory" in said


@pytest.mark.parametrize(("relative", "digest", "expected"), [
    ("style.css", "abcd1234", "style.abcd1234.css"),
    ("js/app.min.js", "abcd1234", "js/app.min.abcd1234.js"),
    ("LICENSE", "abcd1234", "LICENSE.abcd1234"),
    (".well-known", "abcd1234", ".well-known.abcd1234"),
    ("img.d/logo", "abcd1234", "img.d/logo.abcd1234"),
])
def test_fingerprinted_names(relative: str, digest: str, expected: str) -> None:
    assert fingerprinted(relative, digest) == expected
