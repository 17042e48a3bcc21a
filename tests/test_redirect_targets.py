"""Redirect targets, statuses and fixed redirects, checked when they are made (no server needed).

The open-redirect catalogue: every trick that makes a browser leave the site is refused
where the ``Redirect`` is made; what is accepted is spelled so that it can only be a path
of this site (tests/test_redirects_serve.py follows them in Chromium too).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus import ConfigurationError, HTTPError, PerseusApp, Redirect, Template
from perseus.http.location import BadRedirect, check_target, with_query

# Each makes some browser (or some URL parser) go to another host, or splits the response.
OPEN_REDIRECTS = [
    "//evil.com", "///evil.com", "////evil.com", "/\\evil.com", "/\\/evil.com", "\\\\evil.com",
    "\\/evil.com", "https://evil.com", "http://evil.com/", "https:evil.com", "http:evil.com",
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>",
    "evil.com", "//evil.com/%2f..", " /new", " //evil.com", "\t//evil.com", "/\t/evil.com",
    "/\n/evil.com", "/\r\n/evil.com", "/new\r\nSet-Cookie: a=b", "/new\nLocation: //evil.com",
    "/\x00/evil.com", "/new\x7f", "/new\x85", "https://site@evil.com", "//site@evil.com",
    "", "new", "./new", "../new", "?to=x", "#top", "\u3000//evil.com",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_targets_that_could_leave_the_site_are_refused(target: str) -> None:
    with pytest.raises(BadRedirect):
        Redirect(target)
    with pytest.raises(ValueError):  # BadRedirect is a ValueError: user code may catch that
        check_target(target)


@pytest.mark.parametrize(("target", "location"), [
    ("/new", "/new"),
    ("/", "/"),
    ("/a/b?x=1&y=2#top", "/a/b?x=1&y=2#top"),
    ("/%2f%2fevil.com", "/%2f%2fevil.com"),  # an escape stays an escape: a path of this site
    ("/%5Cevil.com", "/%5Cevil.com"),
    ("/%09/evil.com", "/%09/evil.com"),  # encoded tab, CR, LF: escapes, never decoded into the header
    ("/%0d%0aSet-Cookie:%20a=b", "/%0d%0aSet-Cookie:%20a=b"),
    ("/%2F%5Cevil.com", "/%2F%5Cevil.com"),
    ("/a\\b", "/a%5Cb"),  # a backslash after the first segment is data
    ("/caf\u00e9 cr\u00e8me", "/caf%C3%A9%20cr%C3%A8me"),  # non-ASCII and spaces encoded
    ("/a\"b<c>", "/a%22b%3Cc%3E"),
    ("/100%", "/100%25"),  # a % that starts no escape
    ("/a#b#c", "/a#b%23c"),
    ("/\u2028", "/%E2%80%A8"),
    ("/.//evil.com", "/.//evil.com"),  # resolved by browsers below this site's origin
])
def test_site_targets_are_spelled_for_a_location_header(target: str, location: str) -> None:
    assert Redirect(target).location == location
    assert location.isascii() and location.isprintable()


@pytest.mark.parametrize(("target", "location"), [
    ("https://example.com", "https://example.com"),
    ("https://Example.COM:8443/a b?q=\u00e9#x", "https://example.com:8443/a%20b?q=%C3%A9#x"),
    ("HTTP://example.com/", "http://example.com/"),
])
def test_external_targets_are_absolute_http_urls(target: str, location: str) -> None:
    assert Redirect(target, external=True).location == location


@pytest.mark.parametrize("target", [
    "/new", "//evil.com", "javascript:alert(1)", "https:evil.com", "ftp://example.com/",
    "https://user@example.com/", "https://user:pw@example.com/", "https://example.com\\@evil.com",
    "https://", "https://exa mple.com", " https://example.com", "https://example.com\r\n", "https://ex\u00e4mple.com/",
    "https://[::1]/",
])
def test_external_targets_refuse_everything_else(target: str) -> None:
    with pytest.raises(BadRedirect):
        Redirect(target, external=True)


@given(st.text(max_size=60))
def test_whatever_is_accepted_names_this_site(target: str) -> None:
    try:
        location = Redirect(target).location
    except BadRedirect:
        return
    assert location.isascii() and location.isprintable() and " " not in location
    assert location.startswith("/") and location[1:2] not in ("/", "\\")
    resolved = urlsplit(urljoin("https://site.test/base/", location))
    assert (resolved.scheme, resolved.netloc) == ("https", "site.test")


@given(st.text(max_size=60))
def test_a_passed_on_query_cannot_break_the_location(query: str) -> None:
    location = with_query("/new", query)
    assert location.isascii() and location.isprintable() and "#" not in location
    assert location.startswith("/new")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status(status: int) -> None:
    assert Redirect("/new", status=status).status == status


def test_the_default_redirect_is_307() -> None:
    assert Redirect("/new").status == 307


@pytest.mark.parametrize("status", [300, 304, 305, 306, 200, 404, "308", 308.0, True, None])
def test_other_redirect_statuses_are_refused(status: object) -> None:
    with pytest.raises(BadRedirect, match="301, 302, 303, 307, 308"):
        Redirect("/new", status=status)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [400, 401, 403, 410, 418, 429, 451, 499, 500, 502, 503, 599])
def test_http_errors_take_any_4xx_or_5xx(status: int) -> None:
    assert HTTPError(status).status == status


@pytest.mark.parametrize("status", [200, 302, 399, 600, 1000, -1, "404", 404.0, False])
def test_http_errors_refuse_other_statuses(status: object) -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        HTTPError(status)  # type: ignore[arg-type]


def _app(redirects: object) -> PerseusApp:
    return PerseusApp(templates=[Template("index", view=lambda ctx, state: "")],
                      redirects=redirects)  # type: ignore[arg-type]


def test_fixed_redirects_default_to_308_and_take_a_redirect() -> None:
    app = _app({"/old/": "/new", "/gone": Redirect("/new", status=301),
                "/ext": Redirect("https://example.com/", external=True)})
    assert {s: (r.status, r.location) for s, r in app.redirects.items()} == {
        "/old": (308, "/new"), "/gone": (301, "/new"), "/ext": (307, "https://example.com/")}


@pytest.mark.parametrize(("redirects", "names"), [
    ({"/a": "/b", "/b": "/c"}, "chain: /a -> /b"),
    ({"/a": "/b/?x=1", "/b": "/c"}, "chain: /a -> /b"),
    ({"/a": "/a"}, "loop: /a -> /a"),
    ({"/a": "/b", "/b": "/a"}, "loop: /a -> /b -> /a"),
    ({"/a": "//evil.com"}, "redirect '/a': .*another host"),
    ({"/a": "https://evil.com"}, "redirect '/a': .*external=True"),
    ({"/a": "/b\r\nx: y"}, "redirect '/a': .*control character"),
    ({"a": "/b"}, "source 'a'"),
    ({"/a//b": "/b"}, "source '/a//b'"),
    ({"/a/../b": "/b"}, "source '/a/../b'"),
    ({"/.perseus/x": "/b"}, "outside /.perseus/"),
    ({"/a?x": "/b"}, "source '/a\\?x'"),
    ({"/a%2f": "/b"}, "source '/a%2f'"),
    ({"/\ufffd": "/b"}, "source '/\ufffd'"),
    ({"/a": "/b", "/a/": "/c"}, "given twice"),
    ({"/a": 3}, "redirect '/a': a redirect target is a string"),
    (["/a"], "must be a mapping"),
])
def test_bad_fixed_redirects_are_refused_when_the_app_is_made(redirects: object, names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        _app(redirects)


def test_a_fixed_redirect_cannot_hide_a_static_alias(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "robots.txt").write_text("")
    with pytest.raises(ConfigurationError, match="also a static alias"):
        PerseusApp(templates=[Template("index", view=lambda ctx, state: "")], root=root,
                   static_aliases={"/robots.txt": "robots.txt"}, redirects={"/robots.txt": "/new"})


def test_redirects_and_http_errors_survive_pickling() -> None:
    import pickle

    redirect = pickle.loads(pickle.dumps(Redirect("https://example.com/a b%", 302, external=True)))
    assert redirect.location == "https://example.com/a%20b%25"
    assert (redirect.status, redirect.external) == (302, True)
    error = pickle.loads(pickle.dumps(HTTPError(410, "gone for good")))
    assert (error.status, error.message) == (410, "gone for good")
