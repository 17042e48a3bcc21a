"""Gzip copies of prerendered bodies, negotiated by Accept-Encoding: in-process (perseus.testing,
which never adds or undoes an encoding), and their framing on the wire through granian."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

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
])
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("compression") / "site"
    project.mkdir()
    (project / "app.py").write_text(APP)
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


@pytest.mark.parametrize("path", ["/big", "/.perseus/page/xx-XX/big.json", "/.perseus/client.js"])
def test_gzip_copy_is_the_identity_body_compressed(granian: Server, path: str) -> None:
    status, plain_headers, plain = fetch_raw(granian, path)
    assert status == 200 and "content-encoding" not in plain_headers
    status, headers, packed = fetch_raw(granian, path, "Accept-Encoding: gzip, deflate, br")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == plain
    assert len(packed) < 0.9 * len(plain)
    assert int(headers["content-length"]) == len(packed)
    assert headers["content-type"] == plain_headers["content-type"]
    # Both answers say they vary by encoding, and have distinct validators.
    assert plain_headers["vary"].lower() == headers["vary"].lower() == "accept-encoding"
    assert headers["etag"] != plain_headers["etag"] and headers["etag"].endswith('-gz"')


@pytest.mark.parametrize(("accept", "gzipped"), [
    ("gzip", True),
    ("GZip", True),
    ("x-gzip", True),
    ("*", True),
    ("deflate, gzip;q=1.0", True),
    ("gzip;q=0.5, identity;q=0", True),
    ("gzip;q=0.8, *;q=0.5", True),
    ("gzip;q=0", False),
    ("*, gzip;q=0", False),
    ("gzip;q=0.5, identity", False),
    ("gzip;q=2", False),
    ("gzip;q=abc", False),
    ("br", False),
    ("identity", False),
    ("*;q=0", False),
    ("", False),
])
def test_accept_encoding_q_values(server: TestClient, accept: str, gzipped: bool) -> None:
    status, headers, body = fetch(server, "/big", f"Accept-Encoding: {accept}")
    assert status == 200
    assert (headers.get("content-encoding") == "gzip") is gzipped
    text = gzip.decompress(body) if gzipped else body
    assert b"<h1>Big</h1>" in text


def test_if_none_match_works_for_each_representation(server: TestClient) -> None:
    _, plain, _ = fetch(server, "/big")
    _, packed, _ = fetch(server, "/big", "Accept-Encoding: gzip")
    status, headers, body = fetch(server, "/big", "Accept-Encoding: gzip", f"If-None-Match: {packed['etag']}")
    assert (status, body) == (304, b"")
    assert headers["etag"] == packed["etag"] and headers["vary"].lower() == "accept-encoding"
    status, headers, _ = fetch(server, "/big", f"If-None-Match: {plain['etag']}")
    assert status == 304 and headers["etag"] == plain["etag"]
    # A validator of the other representation does not match the one selected.
    status, headers, body = fetch(server, "/big", f"If-None-Match: {packed['etag']}")
    assert status == 200 and "content-encoding" not in headers and b"<h1>Big</h1>" in body
    status, headers, body = fetch(server, "/big", "Accept-Encoding: gzip", f"If-None-Match: {plain['etag']}")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert b"<h1>Big</h1>" in gzip.decompress(body)


def test_head_mirrors_get(server: TestClient) -> None:
    _, get_headers, _ = fetch(server, "/big", "Accept-Encoding: gzip")
    status, headers, body = fetch(server, "/big", "Accept-Encoding: gzip", method="HEAD")
    assert (status, body) == (200, b"")
    for name in ("content-encoding", "etag", "vary", "content-type", "cache-control"):
        assert headers[name] == get_headers[name], name


def test_small_bodies_and_error_pages_are_not_compressed(server: TestClient) -> None:
    status, headers, body = fetch(server, "/.perseus/page/xx-XX/small.json", "Accept-Encoding: gzip")
    assert status == 200 and len(body) < 1024
    assert "content-encoding" not in headers and "vary" not in headers
    status, headers, body = fetch(server, "/missing", "Accept-Encoding: gzip")
    assert status == 404 and "content-encoding" not in headers
    assert b"404" in body


def test_build_is_reproducible_with_its_gzip_copies(tmp_path: Path) -> None:
    project = tmp_path / "site"
    project.mkdir()
    (project / "app.py").write_text(APP)
    TestClient(project).close()  # built, in-process as `perseus build` builds
    first = (project / "dist" / "pages.bin").read_bytes()
    TestClient(project).close()
    assert (project / "dist" / "pages.bin").read_bytes() == first
