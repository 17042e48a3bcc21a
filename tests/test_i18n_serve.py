"""examples/i18n: locales, translations and negotiation in-process (perseus.testing); redirect
safety against hand-written request targets and Host headers through a real granian server."""

from __future__ import annotations

import re

import orjson
import pytest

from perseus.stores.immutable import read_build_id
from perseus.testing import TestClient, TestResponse
from tests.conftest import Server

LOCALES = ("en-US", "fr-FR")
PAGES = ["", "about", "post", "post/first", "post/second"]
# U+2068/U+2069: Fluent isolates each argument so right-to-left values cannot reorder the text.
ADA = "\u2068Ada\u2069"


RawHeaders = dict[bytes, list[bytes]]


def raw_response(
    server: Server, target: bytes, headers: bytes = b"", host: bytes = b"127.0.0.1"
) -> tuple[int, RawHeaders, bytes]:
    """A verbatim GET: the status, every header (lower-case names, all values) and the body."""
    answer = server.raw(
        b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + headers + b"Connection: close\r\n\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    found: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        found.setdefault(name.strip().lower(), []).append(value.strip())
    return int(status_line.split()[1]), found, body


@pytest.mark.parametrize(
    ("accept_language", "locale"),
    [
        (None, "en-US"),
        ("fr-FR", "fr-FR"),
        ("fr", "fr-FR"),
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr-FR"),
        ("en-GB, fr-FR;q=0.8", "en-US"),
        ("de-DE, fr;q=0.3", "fr-FR"),
        ("en;q=0.2, fr;q=0.7", "fr-FR"),
        ("fr-FR;q=0, en;q=0.1", "en-US"),
        ("*", "en-US"),
        ("de, it", "en-US"),
        ("fr;q=abc", "en-US"),
        ("fr;q=1e999, q=", "en-US"),
        (";;;,,,==", "en-US"),
        ("it, " * 2000 + "fr", "en-US"),
    ],
)
def test_unlocalised_paths_redirect_to_the_negotiated_locale(
    i18n_client: TestClient, accept_language: str | None, locale: str
) -> None:
    headers = {"accept-language": accept_language} if accept_language is not None else {}
    for path, target in [("/", f"/{locale}"), ("/about", f"/{locale}/about"),
                         ("/post/first?ref=mail", f"/{locale}/post/first?ref=mail")]:
        response = i18n_client.get(path, headers=headers)
        assert response.status_code == 307, path
        assert response.headers["location"] == target
        assert response.headers["vary"].lower() == "accept-language"
        assert response.headers["cache-control"] == "private, no-store"


def test_a_huge_accept_language_header_still_redirects(i18n_server: Server) -> None:
    for value, locale in [(b"fr-CH," * 6000, b"fr-FR"), (b"it," * 6000 + b"fr", b"en-US")]:
        status, headers, _ = raw_response(i18n_server, b"/about", b"Accept-Language: " + value + b"\r\n")
        assert status == 307
        assert headers[b"location"] == [b"/" + locale + b"/about"]


def follow(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, TestResponse]:
    """GET ``path`` following redirects (at most 5): how many were followed, and the last answer."""
    for hops in range(6):
        response = client.get(path, headers=headers)
        if response.status_code not in (301, 302, 303, 307, 308):
            return hops, response
        path = response.headers["location"]
    raise AssertionError(f"more than 5 redirects from {path}")


def test_redirect_is_one_hop_to_a_page(i18n_client: TestClient) -> None:
    for path, status in [("/", 200), ("/about", 200), ("/post/first/", 200), ("/EN-us/about", 200),
                         ("/nope", 404), ("/about-us", 404), ("/xx-XX/about", 404), ("/fr", 404)]:
        hops, response = follow(i18n_client, path, headers={"accept-language": "fr"})
        assert hops == 1, path
        assert response.status_code == status, path
    # Canonical URLs answer directly.
    for target in ["/en-US", "/en-US/", "/fr-FR/about/", "//fr-FR//post//first"]:
        assert i18n_client.get(target).status_code == 200, target
    # A dot segment after a locale is no page of that locale: 404, not a redirect loop.
    assert i18n_client.get("/en-US/../fr-FR/about").status_code == 404


def test_a_locale_in_the_wrong_case_keeps_it(i18n_client: TestClient) -> None:
    response = i18n_client.get("/FR-fr/post/first", headers={"accept-language": "en-US"})
    assert response.headers["location"] == "/fr-FR/post/first"


def test_redirect_to_head_and_other_methods(i18n_client: TestClient) -> None:
    head = i18n_client.head("/about", headers={"accept-language": "fr"})
    assert head.status_code == 307 and head.headers["location"] == "/fr-FR/about" and head.content == b""
    assert i18n_client.request("POST", "/about").status_code == 405


# REDIR-01/02 and ESC-06: hand-written request targets, no client normalisation.
HOSTILE_TARGETS = [
    b"//evil.example", b"///evil.example", b"/\\evil.example", b"/%5Cevil.example", b"/%5cevil.example",
    b"/%2F%2Fevil.example", b"/%2f/evil.example", b"/%09/evil.example", b"/\t/evil.example",
    b"//evil.example/%2e%2e", b"/.%2e/evil.example", b"/%0d%0aSet-Cookie:%20x=1",
    b"/%0aLocation:%20//evil", b"/%E5%98%8A%E5%98%8D", b"/a?%0d%0aSet-Cookie:%20x=1",
    b"/%22);alert(1)//", b"/</script><script>alert(1)</script>",
    b"/%22%3E%3Csvg%20onload=alert(1)%3E", b"/%00", b"/%c0", b"/https:%2F%2Fevil.example",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS, ids=lambda t: t.decode("latin-1"))
def test_redirects_never_leave_the_site(i18n_server: Server, target: bytes) -> None:
    status, headers, body = raw_response(i18n_server, target, b"Accept-Language: fr\r\n")
    # granian itself refuses some raw targets (a tab, '<') with a 400: that is safe too.
    assert status in (307, 400), status
    assert b"set-cookie" not in headers
    # Nothing of the target is reflected (a 400 is perseus's prerendered page or granian's empty one).
    assert b"alert(" not in body and b"<svg" not in body and b"evil" not in body
    if status == 400:
        return
    [location] = headers[b"location"]
    # SECURITY: browsers drop tab, CR and LF from URLs; what is left must still be ours.
    seen_by_browser = re.sub(rb"[\t\r\n]", b"", location)
    assert re.match(rb"^/fr-FR(/[^/\\]|\?|$)", seen_by_browser), location
    assert b"\\" not in seen_by_browser and b"//" not in seen_by_browser
    assert all(0x20 < byte < 0x7F for byte in location)
    assert headers[b"vary"] == [b"accept-language"]


@pytest.mark.parametrize("host", [b"evil.example", b"127.0.0.1:x@evil.example", b"127.0.0.1:99999"])
def test_redirects_ignore_host_and_forwarded_headers(i18n_server: Server, host: bytes) -> None:
    # REDIR-03: the Location is a path; no request header can make it name another host.
    forwarded = b"X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n"
    status, headers, _ = raw_response(i18n_server, b"/about", forwarded, host=host)
    if status == 400:
        return  # granian refused the Host outright: safe too
    assert status == 307
    assert headers[b"location"] == [b"/en-US/about"]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_built_in_every_locale(i18n_client: TestClient, locale: str, page: str) -> None:
    response = i18n_client.get(f"/{locale}/{page}")
    assert response.status_code == 200
    assert f'<html lang="{locale}">' in response.text
    home = "Home" if locale == "en-US" else "Accueil"
    assert re.search(f'<a href="/{locale}"[^>]*>{home}</a>', response.text)  # ctx.link and ctx.t
    data = i18n_client.get(f"/.perseus/page/{locale}/{page}.json")
    assert data.status_code == 200
    assert home in data.json()["content"]


def test_translated_text_with_arguments_and_plurals(i18n_client: TestClient) -> None:
    english = i18n_client.get("/en-US").text
    assert f"<h1>Hello, {ADA}!</h1>" in english
    assert "<p>There are \u20682\u2069 posts.</p>" in english
    assert "<title>Home</title>" in english
    french = i18n_client.get("/fr-FR").text
    assert f"<h1>Bonjour, {ADA} !</h1>" in french
    assert "<p>Il y a \u20682\u2069 articles.</p>" in french
    assert "Article « \u2068first\u2069 »" in i18n_client.get("/fr-FR/post/first").text


def test_state_functions_receive_the_locale(i18n_client: TestClient) -> None:
    for locale in LOCALES:
        index = i18n_client.get(f"/.perseus/page/{locale}/.json").json()
        assert index["state"] == {"visitor": "Ada", "built_for": locale}
        post = i18n_client.get(f"/.perseus/page/{locale}/post/second.json").json()
        assert post["state"] == {"slug": "second", "locale": locale}


def test_json_endpoint_refuses_unknown_locales(i18n_client: TestClient) -> None:
    for path in ["/.perseus/page/de-DE/about.json", "/.perseus/page/xx-XX/about.json",
                 "/.perseus/page/fr-fr/about.json", "/.perseus/page//about.json"]:
        response = i18n_client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["status"] == 404
    assert i18n_client.get("/.perseus/page/fr-FR/nope.json").status_code == 404


def test_translations_endpoint(i18n_client: TestClient) -> None:
    project = i18n_client.project
    for locale in LOCALES:
        response = i18n_client.get(f"/.perseus/translations/{locale}")
        assert response.status_code == 200
        assert response.content == (project / "translations" / f"{locale}.ftl").read_bytes()
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        again = i18n_client.get(f"/.perseus/translations/{locale}",
                                headers={"if-none-match": response.headers["etag"]})
        assert again.status_code == 304
    for unknown in ["de-DE", "xx-XX", "fr-fr", "", "../app.py"]:
        assert i18n_client.get(f"/.perseus/translations/{unknown}").status_code == 404, unknown


def test_error_pages_are_localised(i18n_client: TestClient) -> None:
    for locale, text, title in [("en-US", "This page does not exist.", "Page not available"),
                                ("fr-FR", "Cette page n’existe pas.", "Page indisponible")]:
        response = i18n_client.get(f"/{locale}/post/unknown")
        assert response.status_code == 404
        assert f'<html lang="{locale}">' in response.text
        assert f"<h1>{text}</h1>" in response.text
        assert f"<title>{title}</title>" in response.text  # error_head, through ctx.t
        assert response.headers["cache-control"] == "no-store"


def test_client_runtime_knows_the_locale(i18n_client: TestClient) -> None:
    page = i18n_client.get("/fr-FR/about").text
    meta = re.search(r'<script id="__perseus_meta" type="application/json">(.*?)</script>', page)
    assert meta and orjson.loads(meta.group(1)) == {"base": "", "locale": "fr-FR", "i18n": True,
                                                    "build": read_build_id(i18n_client.dist)}


def test_static_routes_are_not_localised(i18n_client: TestClient) -> None:
    robots = i18n_client.get("/robots.txt")
    assert robots.status_code == 200 and robots.text.startswith("User-agent")
    assert i18n_client.get("/.perseus/client.js").status_code == 200
    assert i18n_client.get("/.perseus/nope").status_code == 404



def test_the_asgi_adapter_redirects_and_serves_alike(i18n_server: Server) -> None:
    server = Server(i18n_server.project, interface="asgi")
    try:
        response = server.get("/post/first?ref=mail", headers={"accept-language": "fr"})
        assert response.status_code == 307
        assert response.headers["location"] == "/fr-FR/post/first?ref=mail"
        for target in [b"/%5Cevil.example", b"//evil.example", b"/%2F%2Fevil.example"]:
            _, headers, _ = raw_response(server, target)
            assert headers[b"location"][0] in (b"/en-US/%5Cevil.example", b"/en-US/evil.example"), target
        assert f"<h1>Bonjour, {ADA} !</h1>" in server.get("/fr-FR").text
    finally:
        server.close()
