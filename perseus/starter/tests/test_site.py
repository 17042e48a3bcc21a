"""The site's own tests: `pytest` builds it in this process and asks for its pages."""

from pathlib import Path

import pytest

from perseus.testing import TestClient

from posts import POSTS

SITE = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # Built into a temporary dist/, so the tests never touch the one `perseus build` wrote.
    with TestClient(SITE, dist=tmp_path_factory.mktemp("build") / "dist") as client:
        yield client


def test_home_page_links_the_latest_posts(client):
    home = client.get("/")
    assert home.status_code == 200
    assert "<title>__project__</title>" in home.text
    for slug in POSTS:
        assert f'href="/posts/{slug}"' in home.text


def test_every_post_has_a_page(client):
    assert client.get("/posts").status_code == 200
    for slug, post in POSTS.items():
        page = client.get(f"/posts/{slug}")
        assert page.status_code == 200
        assert f"<h1>{post['title']}</h1>" in page.text


def test_stylesheet_is_linked_and_served(client):
    home = client.get("/").text
    href = home.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert client.get(href).status_code == 200


def test_unknown_page_is_the_404_page(client):
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
