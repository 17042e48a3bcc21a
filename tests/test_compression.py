"""Brotli and gzip copies of every answer of 1 KB or more, negotiated by Accept-Encoding:
in-process (perseus.testing, which never adds or undoes an encoding), and their framing on
the wire through granian."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from perseus.stores.immutable import read_build_id
from perseus.stores.lmdb_store import lmdb_session
from perseus.stores.records import PageRecords, encode_record, page_key
from perseus.testing import TestClient
from tests.conftest import Server, split_answer

APP = '''
from perseus import PerseusApp, Template

PARAGRAPH = "<p>The quick brown fox jumps over the lazy dog, again and again.</p>"


def big_view(ctx, state):
    return "<h1>Big</h1>" + PARAGRAPH * state["n"]


app = PerseusApp(templates=[
    Template("big", view=big_view, build_state=lambda info: {"n": 120}),
    Template("small", view=lambda ctx, state: "<p>hi</p>"),
    Template("news", view=big_view, build_state=lambda info: {"n": 60}, revalidate_after="1h"),
    Template("post", view=big_view, build_paths=lambda: [], build_state=lambda info: {"n": 50},
             incremental=True),
    Template("greet", view=big_view, request_state=lambda info, request: {"n": 40}),
], static_dir="static", static_aliases={"/big.txt": "static/big.txt"},
   error_views={404: lambda ctx, error: "<h1>Lost</h1>" + PARAGRAPH * 30})
'''
STYLE = "".join(f".rule-{i} {{ color: #{i:06x}; margin: {i}px; }}\n" for i in range(400))


def decoded(headers: dict[str, str], body: bytes) -> bytes:
    coding = headers.get("content-encoding")
    if coding == "br":
        return bytes(brotli.decompress(body))
    return gzip.decompress(body) if coding == "gzip" else body


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("compression") / "site"
    project.mkdir()
    (project / "app.py").write_text(APP)
    static = project / "static"
    static.mkdir()
    (static / "style.css").write_text(STYLE)
    (static / "big.txt").write_text("plain text, again and again. " * 100)
    (static / "tiny.css").write_text("p { color: red; }")
    (static / "noise.png").write_bytes(os.urandom(4096))
    return project


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[TestClient]:
    with TestClient(project) as client:  # builds project/dist
        yield client


@pytest.fixture(scope="module")
def granian(project: Path, server: TestClient) -> Iterator[Server]:
    running = Server(project)  # the build the client made
    yield running
    running.close()


def fetch(server: TestClient, path: str, *headers: str,
          method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """The answer as the engine sent it: status, headers and body (nothing decoded)."""
    fields = dict(header.split(": ", 1) for header in headers)
    response = server.request(method, path, headers=fields)
    return response.status_code, dict(response.headers), response.content


def fetch_raw(server: Server, path: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    """Send the request byte for byte (no client adds or undoes any encoding)."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return split_answer(server.raw(("\r\n".join(lines) + "\r\n\r\n").encode()))


PAGES = ["/big", "/.perseus/page/xx-XX/big.json", "/.perseus/client.js", "/news",
         "/.perseus/page/xx-XX/news.json", "/post/first", "/.perseus/page/xx-XX/post/json.json"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("accept", "coding", "suffix"), [("gzip, deflate, br", "br", '-br"'),
                                                          ("gzip, deflate", "gzip", '-gz"')])
def test_each_copy_is_the_identity_body_compressed(granian: Server, path: str, accept: str, coding: str,
                                                   suffix: str) -> None:
    fetch_raw(granian, path)  # an incremental page is generated (and stored) first
    status, plain_headers, plain = fetch_raw(granian, path)
    assert status == 200 and "content-encoding" not in plain_headers
    status, headers, packed = fetch_raw(granian, path, f"Accept-Encoding: {accept}")
    assert status == 200
    assert headers["content-encoding"] == coding
    assert decoded(headers, packed) == plain
    assert len(packed) < 0.9 * len(plain)
    assert int(headers["content-length"]) == len(packed)
    assert headers["content-type"] == plain_headers["content-type"]
    assert headers["cache-control"] == plain_headers["cache-control"]
    # Both answers say they vary by encoding, and have distinct validators.
    assert plain_headers["vary"].lower() == headers["vary"].lower() == "accept-encoding"
    assert headers["etag"] == plain_headers["etag"][:-1] + suffix


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_a_first_generation_is_compressed_for_the_client_that_asked(server: TestClient, coding: str) -> None:
    # The version is stored without copies; each coding is made when first taken.
    path = f"/post/first-{coding}"
    status, headers, packed = fetch(server, path, f"Accept-Encoding: {coding}")
    assert (status, headers["x-perseus-cache"], headers["content-encoding"]) == (200, "GENERATED", coding)
    status, plain_headers, plain = fetch(server, path)
    assert (status, plain_headers["x-perseus-cache"]) == (200, "HIT")
    assert "content-encoding" not in plain_headers
    assert decoded(headers, packed) == plain and len(packed) < len(plain) / 2
    assert plain_headers["vary"].lower() == headers["vary"].lower() == "accept-encoding"
    assert headers["etag"] == plain_headers["etag"][:-1] + ('-br"' if coding == "br" else '-gz"')
    _, again, packed_again = fetch(server, path, f"Accept-Encoding: {coding}")
    assert (again["etag"], packed_again) == (headers["etag"], packed)  # made once, then kept


@pytest.mark.parametrize("path", ["/greet", "/.perseus/page/xx-XX/greet.json"])
def test_pages_rendered_per_request_are_compressed_as_they_are_sent(granian: Server, path: str) -> None:
    status, plain_headers, plain = fetch_raw(granian, path)
    assert status == 200 and "content-encoding" not in plain_headers and len(plain) > 1024
    for coding in ("br", "gzip"):
        status, headers, packed = fetch_raw(granian, path, f"Accept-Encoding: {coding}")
        assert status == 200 and headers["content-encoding"] == coding
        assert decoded(headers, packed) == plain and len(packed) < len(plain) / 2
        assert headers["vary"].lower() == "accept-encoding"
        assert headers["cache-control"] == "private, no-store" and "etag" not in headers


@pytest.mark.parametrize(("accept", "coding"), [
    ("gzip", "gzip"),
    ("GZip", "gzip"),
    ("x-gzip", "gzip"),
    ("br", "br"),
    ("BR", "br"),
    ("*", "br"),
    ("gzip, br", "br"),  # a tie: brotli, the smaller
    ("br;q=0.9, gzip", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("*, br;q=0", "gzip"),
    ("deflate, gzip;q=1.0", "gzip"),
    ("gzip;q=0.5, identity;q=0", "gzip"),
    ("br;q=0.2, identity;q=0", "br"),
    ("gzip;q=0.8, *;q=0.5", "gzip"),
    ("gzip;q=0", None),
    ("*, gzip;q=0, br;q=0", None),
    ("gzip;q=0.5, identity", None),
    ("gzip;q=2", None),
    ("gzip;q=abc", None),
    ("deflate", None),
    ("identity", None),
    ("*;q=0", None),
    ("", None),
])
def test_accept_encoding_q_values(server: TestClient, accept: str, coding: str | None) -> None:
    for path in ("/big", "/news", "/greet"):
        status, headers, body = fetch(server, path, f"Accept-Encoding: {accept}")
        assert status == 200
        assert headers.get("content-encoding") == coding, path
        assert b"<h1>Big</h1>" in decoded(headers, body)


@pytest.mark.parametrize("path", ["/big", "/news", "/post/validated"])
def test_if_none_match_works_for_each_representation(server: TestClient, path: str) -> None:
    _, plain, _ = fetch(server, path)
    for coding in ("br", "gzip"):
        _, packed, _ = fetch(server, path, f"Accept-Encoding: {coding}")
        status, headers, body = fetch(server, path, f"Accept-Encoding: {coding}",
                                      f"If-None-Match: {packed['etag']}")
        assert (status, body) == (304, b"")
        assert headers["etag"] == packed["etag"] and headers["vary"].lower() == "accept-encoding"
        # A validator of another representation does not match the one selected.
        status, headers, body = fetch(server, path, f"If-None-Match: {packed['etag']}")
        assert status == 200 and "content-encoding" not in headers and b"<h1>Big</h1>" in body
        status, headers, body = fetch(server, path, f"Accept-Encoding: {coding}",
                                      f"If-None-Match: {plain['etag']}")
        assert status == 200 and headers["content-encoding"] == coding
    status, headers, _ = fetch(server, path, f"If-None-Match: {plain['etag']}")
    assert status == 304 and headers["etag"] == plain["etag"]


@pytest.mark.parametrize("path", ["/big", "/news", "/greet", "/post/headed", "/.perseus/static/style.css"])
def test_head_mirrors_get(server: TestClient, path: str) -> None:
    fetch(server, path)  # an incremental page is generated (and stored) first
    for coding in ("br", "gzip", "identity"):
        _, get_headers, _ = fetch(server, path, f"Accept-Encoding: {coding}")
        status, headers, body = fetch(server, path, f"Accept-Encoding: {coding}", method="HEAD")
        assert (status, body) == (200, b"")
        for name in ("content-encoding", "etag", "vary", "content-type", "cache-control", "x-perseus-cache"):
            assert headers.get(name) == get_headers.get(name), (path, name)


def test_small_bodies_are_not_compressed(server: TestClient) -> None:
    for path in ("/.perseus/page/xx-XX/small.json", "/small"):
        status, headers, body = fetch(server, path, "Accept-Encoding: br, gzip")
        assert status == 200 and len(body) < 1024
        assert "content-encoding" not in headers and "vary" not in headers
    status, headers, body = fetch(server, "/.perseus/page/xx-XX/missing.json", "Accept-Encoding: br, gzip")
    assert status == 404 and "content-encoding" not in headers


@pytest.mark.parametrize("path", ["/missing", "/post/..", "/.perseus/nothing"])
def test_a_big_error_page_is_compressed_where_its_request_is_known(server: TestClient, path: str) -> None:
    status, plain_headers, plain = fetch(server, path)
    assert status == 404 and b"<h1>Lost</h1>" in plain and len(plain) > 1024
    for coding in ("br", "gzip"):
        status, headers, body = fetch(server, path, f"Accept-Encoding: {coding}")
        assert status == 404 and headers.get("content-encoding") in (coding, None)
        assert decoded(headers, body) == plain
        assert "etag" not in headers and headers["cache-control"] == "no-store"
    status, headers, body = fetch(server, "/missing", "Accept-Encoding: br")
    assert headers["content-encoding"] == "br" and headers["vary"].lower() == "accept-encoding"
    assert len(body) < len(plain) / 2


@pytest.mark.parametrize("path", ["/.perseus/static/style.css", "/big.txt"])
def test_static_files_are_streamed_from_the_builds_copies(granian: Server, path: str) -> None:
    status, plain_headers, plain = fetch_raw(granian, path)
    assert status == 200 and "content-encoding" not in plain_headers
    assert plain_headers["vary"].lower() == "accept-encoding"
    for coding, suffix in (("br", '-br"'), ("gzip", '-gz"')):
        status, headers, packed = fetch_raw(granian, path, f"Accept-Encoding: {coding}")
        assert status == 200 and headers["content-encoding"] == coding
        assert decoded(headers, packed) == plain and len(packed) < len(plain) / 2
        assert headers["etag"] == plain_headers["etag"][:-1] + suffix
        status, again, _ = fetch_raw(granian, path, f"Accept-Encoding: {coding}",
                                     f"If-None-Match: {headers['etag']}")
        assert status == 304 and again["etag"] == headers["etag"]


@pytest.mark.parametrize("path", ["/.perseus/static/tiny.css", "/.perseus/static/noise.png"])
def test_small_or_compressed_static_files_have_no_copies(granian: Server, path: str) -> None:
    status, headers, _ = fetch_raw(granian, path, "Accept-Encoding: br, gzip")
    assert status == 200 and "content-encoding" not in headers and "vary" not in headers


def small_site(parent: Path) -> Path:
    """The app with only a stylesheet worth compressing (the alias's file is tiny)."""
    site = parent / "site"
    (site / "static").mkdir(parents=True)
    (site / "app.py").write_text(APP)
    (site / "static" / "style.css").write_text(STYLE)
    (site / "static" / "big.txt").write_text("x")
    return site


def test_a_static_file_changed_since_the_build_is_sent_as_it_is(tmp_path: Path) -> None:
    site = small_site(tmp_path)
    with TestClient(site) as client:
        _, headers, _ = fetch(client, "/.perseus/static/style.css", "Accept-Encoding: br")
        assert headers["content-encoding"] == "br"
        (site / "static" / "style.css").write_text(STYLE + "/* edited */")
        _, headers, _ = fetch(client, "/.perseus/static/style.css", "Accept-Encoding: br")
        assert "content-encoding" not in headers


def test_a_record_of_the_old_format_counts_as_absent(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    site = small_site(tmp_path)
    with TestClient(site) as client:
        with lmdb_session(site / "dist" / "mutable") as store:
            build_id = read_build_id(site / "dist")
            assert build_id is not None
            version = PageRecords(store, build_id).get("xx-XX", "news")
            assert version is not None and all(version.copies[:2])  # the build's, compressed
            old = bytearray(encode_record(version))
            old[3] = 1  # what perseus wrote before compressed copies were stored
            store.write(page_key("xx-XX", "news"), bytes(old))
        response = client.get("/news", headers={"Accept-Encoding": "br"})
        assert response.status_code == 200 and response.headers["x-perseus-cache"] == "MISS"
        assert response.headers["content-encoding"] == "br"  # the build's copy has its own
    assert "damaged" not in caplog.text


def test_build_is_reproducible_with_its_compressed_copies(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # NOTE: every page names its build, so two builds are alike but for their ids: one id here.
    monkeypatch.setattr("perseus.builder.build.new_build_id", lambda: "20260101000000-00000000")
    project = small_site(tmp_path)
    TestClient(project).close()  # built, in-process as `perseus build` builds
    first = (project / "dist" / "pages.bin").read_bytes()
    copies = sorted((project / "dist" / "static-copies").iterdir())
    assert len(copies) == 2  # style.css, in brotli and gzip
    packed = [path.read_bytes() for path in copies]
    TestClient(project).close()
    assert (project / "dist" / "pages.bin").read_bytes() == first
    assert [path.read_bytes() for path in sorted((project / "dist" / "static-copies").iterdir())] == packed
