"""examples/basic answered in-process (perseus.testing): the HTTP surface of DESIGN.md section 4."""

from __future__ import annotations

import html
import re

import orjson

from perseus.client import runtime_path
from perseus.testing import TestClient


def state_of(client: TestClient, path: str, page: str) -> object:
    """The page's state, from its JSON: its HTML embeds none (nothing on it reads the state)."""
    assert '<script id="__perseus_state"' not in page, path
    return client.get(f"/.perseus/page/xx-XX{path}.json").json()["state"]


def test_index_is_prerendered_with_its_build_state_and_head(basic_client: TestClient) -> None:
    response = basic_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Home</title>" in response.text
    assert "<h1>Welcome to perseus</h1>" in response.text
    assert state_of(basic_client, "/", response.text) == {"greeting": "Welcome to perseus",
                                                          "posts": ["first", "second"]}
    assert '<div id="root"><header class="site-header">' in response.text


def test_build_paths_pages_and_helper_state(basic_client: TestClient) -> None:
    for path, title in [("/post", "All posts"), ("/post/first", "The first post"),
                        ("/post/second", "Second thoughts")]:
        response = basic_client.get(path)
        assert response.status_code == 200, path
        assert f"<title>{html.escape(title)}</title>" in response.text
        assert state_of(basic_client, path, response.text)["source"] == "the POSTS table"  # type: ignore[index]


def test_the_search_page_embeds_its_state_for_its_script(basic_client: TestClient) -> None:
    page = basic_client.get("/search").text
    match = re.search(r'<script id="__perseus_state" type="application/json">(.*?)</script>', page)
    assert match and orjson.loads(match.group(1)) == {"posts": [
        {"path": "first", "title": "The first post"}, {"path": "second", "title": "Second thoughts"}]}
    scripts = re.search(r'<script id="__perseus_page" type="application/json">(.*?)</script>', page)
    assert scripts
    urls = orjson.loads(scripts.group(1))["scripts"]
    assert len(urls) == 1 and re.fullmatch(r"/\.perseus/static/search\.[0-9a-f]{8}\.js", urls[0])
    module = basic_client.get(urls[0])
    assert module.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "export function mount(root, page)" in module.text
    # Without JavaScript every post is linked; the filter (hidden) is the script's to show.
    assert '<form class="search" role="search" hidden>' in page and page.count('<li data-title=') == 2


def test_empty_segments_and_trailing_slashes_are_ignored(basic_client: TestClient) -> None:
    assert basic_client.get("/about/").status_code == 200
    assert basic_client.get("//post//first").status_code == 200


def test_unknown_page_uses_the_custom_404_view(basic_client: TestClient) -> None:
    response = basic_client.get("/post/unknown")
    assert response.status_code == 404
    assert "Nothing here" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_json_endpoint_gives_state_head_and_content(basic_client: TestClient) -> None:
    response = basic_client.get("/.perseus/page/xx-XX/post/first.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["state"]["title"] == "The first post"
    assert data["head"].startswith("<title>The first post</title>")
    assert "<h1>The first post</h1>" in data["content"]
    index = basic_client.get("/.perseus/page/xx-XX/.json", params={"entity_name": "about"})
    assert index.json()["state"]["greeting"] == "Welcome to perseus"  # query hints are ignored


def test_json_endpoint_errors_are_json_with_the_html_status(basic_client: TestClient) -> None:
    missing = basic_client.get("/.perseus/page/xx-XX/post/unknown.json")
    assert missing.status_code == 404
    data = missing.json()
    assert data["error"] == {"status": 404, "message": "page not found"}
    # The error view's page, for a client navigation to show.
    assert (data["template"], data["scripts"]) == ("", []) and "Nothing here" in data["content"]
    assert basic_client.get("/.perseus/page/fr-FR/about.json").status_code == 404
    assert basic_client.get("/.perseus/page/xx-XX/about").status_code == 400


def test_static_files_and_aliases(basic_client: TestClient) -> None:
    css = basic_client.get("/.perseus/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "font-family" in css.text
    robots = basic_client.get("/robots.txt")
    assert robots.status_code == 200 and robots.text.startswith("User-agent")
    assert basic_client.get("/ROBOTS.TXT").status_code == 404
    assert basic_client.get("/.perseus/static/nope.css").status_code == 404


def test_set_headers_applies_to_the_page(basic_client: TestClient) -> None:
    response = basic_client.get("/about")
    assert response.headers["x-greeting"] == "Hello from about"
    assert response.headers["cache-control"] == "public, max-age=0, must-revalidate"


def test_etag_gives_304(basic_client: TestClient) -> None:
    for path in ["/", "/.perseus/page/xx-XX/.json", "/robots.txt", "/.perseus/client.js"]:
        first = basic_client.get(path)
        tag = first.headers["etag"]
        again = basic_client.get(path, headers={"if-none-match": tag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == tag


def test_head_has_no_body_and_the_same_status(basic_client: TestClient) -> None:
    for path, status in [("/", 200), ("/nope", 404), ("/robots.txt", 200)]:
        response = basic_client.head(path)
        assert response.status_code == status
        assert response.content == b""
        assert response.headers["content-type"] == basic_client.get(path).headers["content-type"]


def test_other_methods_get_405_with_allow(basic_client: TestClient) -> None:
    for method in ["POST", "PUT", "DELETE", "PATCH"]:
        for path in ["/", "/.perseus/page/xx-XX/.json", "/robots.txt", "/.perseus/static/style.css"]:
            response = basic_client.request(method, path)
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == "GET, HEAD"


def test_client_runtime_is_served_and_linked(basic_client: TestClient) -> None:
    page = basic_client.get("/").text
    # Pages load the runtime by its hashed name, cached for ever; the plain name stays.
    assert f'<script type="module" src="{runtime_path()}"></script>' in page
    assert re.fullmatch(r"/\.perseus/client\.[0-9a-f]{8}\.js", runtime_path())
    hashed = basic_client.get(runtime_path())
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    client = basic_client.get("/.perseus/client.js")
    assert client.status_code == 200 and client.content == hashed.content
    assert client.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert client.headers["content-type"].startswith("text/javascript")
    assert "/.perseus/page/" in client.text
