"""Hostile requests through a real granian server, sent byte for byte over raw sockets.

reliability.md STATIC-01..07, REQ-01..03, REQ-06: traversal, encodings, odd file types,
symlinks and aliases. Every answer must be a 4xx (never a 500), no body may ever hold
the canary token planted outside the static root, and the same worker keeps answering.
Each case runs against both interfaces: RSGI (granian decodes the path itself) and ASGI
(``perseus.http.urls.decode_target`` decodes ``raw_path`` the same way), and every case
gets the same status from both. RSGI gives no raw path, so a malformed escape is known on
both by the ``%`` it leaves in the decoded path: 400.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from perseus.stores.immutable import Dist, mutable_location
from perseus.stores.lmdb_store import lmdb_session
from perseus.stores.records import PageRecords
from tests.conftest import Server, perseus

CANARY = "canary-" + secrets.token_hex(16)

APP = f'''\
# {CANARY}
from html import escape
from pathlib import Path

from perseus import BuildPaths, PerseusApp, Template

GENERATED = Path(__file__).with_name("generated.log")


def view(ctx, state):
    return f"<h1>{{escape(ctx.path or 'home')}}</h1>"


def generated_state(info):
    with GENERATED.open("a", encoding="utf-8", errors="surrogateescape") as log:
        log.write(repr(info.path) + "\\n")
    return {{"path": info.path}}


app = PerseusApp(
    templates=[
        Template("index", view=view),
        Template("about", view=view),
        Template("post", view=view, build_paths=lambda: BuildPaths(["first", "a"])),
        Template("gen", view=view, build_state=generated_state, incremental=True),
    ],
    error_views={{404: lambda ctx, error: "<h1>Nothing here</h1>"}},
    static_dir="static",
    static_aliases={{"/robots.txt": "static/robots.txt", "/gone.txt": "static/gone.txt"}},
)
'''


def _make_site(project: Path) -> None:
    static = project / "static"
    (static / "sub").mkdir(parents=True)
    (project / "app.py").write_text(APP)
    (static / "robots.txt").write_text("User-agent: *\n")
    (static / "gone.txt").write_text("soon deleted\n")
    (static / "a.css").write_text("body {}\n")
    (static / "sub" / "inner.txt").write_text("inner\n")
    # Canaries: siblings of the static root, the project root and the app itself.
    (project / "static_private").mkdir()
    (project / "static_private" / "secret.txt").write_text(CANARY)
    (project / "static1.txt").write_text(CANARY)
    (project / "secret.txt").write_text(CANARY)
    # Odd entries inside the static root.
    os.mkfifo(static / "fifo")
    (static / "zero").symlink_to("/dev/zero")
    with socket.socket(socket.AF_UNIX) as unix_socket:
        unix_socket.bind(str(static / "sock"))
    (static / "link_file").symlink_to(project / "static_private" / "secret.txt")
    (static / "link_dir").symlink_to(project / "static_private")
    (static / "loop").symlink_to(static / "loop")
    (static / "loop_a").symlink_to(static / "loop_b")
    (static / "loop_b").symlink_to(static / "loop_a")
    (static / "inside_link.txt").symlink_to(static / "robots.txt")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("hostile") / "site"
    project.mkdir()
    _make_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module", params=["rsgi", "asgi"])
def server(request: pytest.FixtureRequest, hostile_site: Path) -> Iterator[Server]:
    gone = hostile_site / "static" / "gone.txt"
    gone.write_text("soon deleted\n")  # the app refuses to start with an alias target missing
    server = Server(hostile_site, interface=request.param)
    gone.unlink()  # STATIC-07: an alias target deleted after start
    yield server
    server.close()


@pytest.fixture(autouse=True)
def still_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test, the same server process still answers a normal request."""
    yield
    if "server" in request.fixturenames:
        server: Server = request.getfixturevalue("server")
        assert server.process.poll() is None, "the server died"
        assert server.raw_get(b"/about")[0] == 200


def refused(server: Server, target: bytes, allowed: tuple[int, ...] = (400, 404)) -> int:
    status, body = server.raw_get(target)
    assert status in allowed, (target, status, body[:200])
    assert CANARY.encode() not in body, target
    assert b"Traceback" not in body and b"Error:" not in body, target
    return status


S = b"/.perseus/static/"

TRAVERSAL = [
    # STATIC-01: raw dot segments
    S + b"../app.py", S + b"../../etc/passwd", S + b"./../app.py", S + b"../static_private/secret.txt",
    S + b"sub/../../app.py", b"/../app.py", b"/about/../../secret.txt",
    # STATIC-02: encoded traversal, decoded exactly once
    S + b"%2e%2e/app.py", S + b"..%2fapp.py", S + b"%2e%2e%2fapp.py", S + b"%2E%2e/app.py",
    S + b".%2e/app.py", S + b"..%5capp.py", S + b"%2e%2e%5capp.py", S + b"%252e%252e%252fapp.py",
    S + b"..%c0%afapp.py", S + b"..%2f..%2fetc%2fpasswd", b"/.perseus/static%2f..%2fapp.py",
    # STATIC-03: prefix siblings
    S + b"../static_private/secret.txt", S + b"../static1.txt", S + b"..%2fstatic1.txt",
    # STATIC-04: absolute, OS-specific and control characters
    S + b"/etc/passwd", S + b"%2fetc%2fpasswd", S + b"C:%5cWindows%5cwin.ini",
    S + b"%5c%5cserver%5cshare", S + b"robots.txt%00", S + b"robots.txt%00.css", S + b"a%0a.txt",
    b"//etc/passwd", b"//app.py", S + b"%00",
    # STATIC-06: symlinks out of the root, loops
    S + b"link_file", S + b"link_dir/secret.txt", S + b"link_dir", S + b"loop", S + b"loop_a",
    S + b"loop/x",
    # JSON endpoint
    b"/.perseus/page/xx-XX/../../app.py.json", b"/.perseus/page/xx-XX/%2e%2e/%2e%2e/app.py.json",
    b"/.perseus/page/../../secret.txt", b"/.perseus/page/xx-XX/..%2f..%2fsecret.txt.json",
]


@pytest.mark.parametrize("target", TRAVERSAL, ids=lambda t: t.decode("latin-1"))
def test_traversal_never_leaves_the_static_root(server: Server, target: bytes) -> None:
    refused(server, target)


def test_request_target_without_a_leading_slash(server: Server) -> None:
    for target in [b"../secret.txt", b"..%2fsecret.txt", b"*", b"../../static1.txt"]:
        refused(server, target)
    # NOTE: granian parses a bare name as an authority-form target, whose path is '/':
    # the answer is the home page, never the file of that name.
    _, home = server.raw_get(b"/")
    for target in [b"static1.txt", b"secret.txt"]:
        status, body = server.raw_get(target)
        assert status in (400, 404) or (status, body) == (200, home), target
        assert CANARY.encode() not in body


ODD_FILES = [
    S + b"sub", S + b"sub/", S,  # directories
    S + b"a.css/x", S + b"robots.txt/", S + b"robots.txt/.",  # a file used as a directory
    S + b"fifo", S + b"zero", S + b"sock",  # must not block, never a device or socket
    S + b"a" * 256, S + b"a" * 5000 + b".txt", S + b"sub/" + b"b" * 300 + b"/x",  # NAME_MAX, PATH_MAX
    S + b"nope.css",
]


@pytest.mark.parametrize("target", ODD_FILES, ids=lambda t: t.decode("latin-1")[:60])
def test_odd_file_types_and_sizes_are_404(server: Server, target: bytes) -> None:
    assert refused(server, target, allowed=(404,)) == 404


def test_symlinks_inside_the_root_and_plain_files_are_served(server: Server) -> None:
    for target in [S + b"inside_link.txt", S + b"robots.txt", S + b"sub/inner.txt", S + b"%72obots.txt"]:
        status, body = server.raw_get(target)
        assert status == 200, target
        assert body in (b"User-agent: *\n", b"inner\n")


ALIASES = [
    b"/robots.txt/../app.py", b"/robots.txt%2f..%2fapp.py", b"/robots.txt/..%2fsecret.txt",
    b"/ROBOTS.TXT", b"/robots.txt/", b"/robots.txt%00", b"/robots.txt/x", b"/%2frobots.txt/../app.py",
    b"/gone.txt",  # target deleted after start
]


@pytest.mark.parametrize("target", ALIASES, ids=lambda t: t.decode("latin-1"))
def test_aliases_match_their_exact_path_only(server: Server, target: bytes) -> None:
    refused(server, target, allowed=(404,) if b"%00" not in target else (400, 404))


def test_alias_is_served(server: Server) -> None:
    assert server.raw_get(b"/robots.txt") == (200, b"User-agent: *\n")


INVALID_UTF8 = [b"/%c0", b"/%ff", b"/%80abc", b"/post/%ed%a0%80", b"/about%ff"]


@pytest.mark.parametrize("target", INVALID_UTF8, ids=lambda t: t.decode("latin-1"))
def test_invalid_utf8_is_400_on_every_route(server: Server, target: bytes) -> None:
    """REQ-01: invalid UTF-8 never collapses onto another path (granian's U+FFFD)."""
    assert refused(server, target, allowed=(400,)) == 400
    assert refused(server, S + target[1:], allowed=(400,)) == 400
    json_target = b"/.perseus/page/xx-XX" + target + b".json"
    status, body = server.raw_get(json_target)
    assert status == 400, json_target
    assert orjson.loads(body)["error"] == {"status": 400, "message": "bad request"}


MALFORMED = [b"/%", b"/%zz", b"/%2", b"/post/%g1", S + b"%zz", b"/about%", b"/%%41", b"/gen/%ZZ",
             b"/gen/a%", b"/gen/%2x/b", b"/.perseus/page/xx-XX/gen/%zz.json", b"/.perseus/page/xx-XX/%.json"]


@pytest.mark.parametrize("target", MALFORMED, ids=lambda t: t.decode("latin-1"))
def test_malformed_percent_encoding_is_400_on_every_route(server: Server, target: bytes) -> None:
    """REQ-02: a malformed escape is 400 before any lookup: pages, static files, JSON, incremental."""
    assert refused(server, target, allowed=(400,)) == 400


def test_a_percent_is_read_after_decoding(server: Server) -> None:
    """RSGI gives the decoded path alone: "%%36E" decodes to "%6E", and "%2541" to "%41",
    neither of which can be told from what a malformed escape leaves: 400, generating nothing."""
    for target in (b"/%2541", b"/%25zz", b"/%%36E", b"/gen/%2541", b"/gen/%%36E"):
        assert refused(server, target, allowed=(400,)) == 400, target


BELOW_INCREMENTAL = [b"/gen/%zz", b"/gen/%ZZ", b"/gen/x%", b"/gen/%e", b"/gen/%ff", b"/gen/%c3%28",
                     b"/gen/a%00b", b"/gen/%0d%0a", b"/gen/%25zz", b"/.perseus/page/xx-XX/gen/%ZZ.json"]


def test_bad_paths_below_an_incremental_template_are_400_and_nothing_is_generated_or_stored(
        server: Server, hostile_site: Path) -> None:
    """Issue 10: ``/<incremental template>/%ZZ`` was generated, stored and answered 200."""
    for target in BELOW_INCREMENTAL:
        assert refused(server, target, allowed=(400,)) == 400
    assert server.raw_get(b"/gen/fine")[0] == 200  # the template does generate good paths
    log = hostile_site / "generated.log"
    generated = log.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    assert "'fine'" in generated
    assert set(generated) <= {"''", "'fine'"}, generated  # "": the root, built
    dist = Dist(hostile_site / "dist")
    with lmdb_session(mutable_location(dist.path, None)) as store:
        records = PageRecords(store, dist.build_id)
        assert records.get("xx-XX", "gen/fine") is not None
        for stored in ("gen/%zz", "gen/%ZZ", "gen/x%", "gen/%e", "gen/\ufffd", "gen/\ufffd(", "gen/a\x00b"):
            assert records.get("xx-XX", stored) is None, stored


def test_control_characters_are_400(server: Server) -> None:
    for target in [b"/about%00", b"/about%0a", b"/%0d%0aSet-Cookie:%20x=1", b"/post%09first"]:
        status, _ = server.raw_get(target)
        assert status == 400, target


def test_json_endpoint_shape_errors(server: Server) -> None:
    """REQ-02: a state URL without .json, an unknown locale, a page that does not exist."""
    cases = {
        b"/.perseus/page/xx-XX/about": 400,
        b"/.perseus/page/fr-FR/about.json": 404,
        b"/.perseus/page/xx-XX/post/nope.json": 404,
        b"/.perseus/page/xx-XX": 400,
        b"/.perseus/page/": 404,
        b"/.perseus/page/xx-XX/.json.json": 404,
    }
    for target, expected in cases.items():
        status, body = server.raw_get(target)
        assert status == expected, target
        assert body.startswith(b'{"error":'), target


def test_encoded_slash_routes_one_way(server: Server) -> None:
    """REQ-03: routing and the page served agree on what an encoded slash means."""
    literal, _ = server.raw_get(b"/post/a%252Fb")
    assert literal == 400  # 'a%2Fb': a decoded '%' is never routed (see the malformed escapes)
    decoded_status, decoded_body = server.raw_get(b"/post%2Ffirst")
    plain_status, plain_body = server.raw_get(b"/post/first")
    assert (decoded_status, decoded_body) == (plain_status, plain_body) == (200, plain_body)


def test_other_methods_on_every_route_are_405(server: Server) -> None:
    """REQ-06: 405 with Allow on pages, the JSON endpoint, static files and aliases."""
    for method in [b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"PATCH"]:
        for target in [b"/", b"/post/first", b"/.perseus/page/xx-XX/.json", S + b"robots.txt",
                       b"/robots.txt", b"/nope"]:
            answer = server.raw(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            head = answer.partition(b"\r\n\r\n")[0].lower()
            assert head.split()[1] == b"405", (method, target, head)
            assert b"\r\nallow: get, head" in head, (method, target)


def test_head_matches_get_without_a_body(server: Server) -> None:
    for target in [b"/", S + b"robots.txt", b"/robots.txt", b"/.perseus/page/xx-XX/about.json", b"/nope"]:
        get = server.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = server.raw(b"HEAD " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        get_head, _, _ = get.partition(b"\r\n\r\n")
        head_head, _, head_body = head.partition(b"\r\n\r\n")
        assert head_body == b"", target
        assert get_head.split(b"\r\n")[0] == head_head.split(b"\r\n")[0], target
        assert same_headers(get_head) == same_headers(head_head), target


def same_headers(block: bytes) -> set[bytes]:
    """The headers HEAD must repeat from GET."""
    wanted = {b"content-type", b"etag", b"cache-control"}
    return {line.lower() for line in block.split(b"\r\n")[1:] if line.split(b":")[0].lower() in wanted}


def test_query_strings_and_fragments_do_not_change_the_route(server: Server) -> None:
    """The server routes on the path alone; a query or fragment never reaches a file name."""
    for plain, suffix in [(b"/about", b"?x=1"), (b"/about", b"#frag"), (b"/robots.txt", b"?../app.py"),
                          (S + b"robots.txt", b"?v=1"),
                          (b"/.perseus/page/xx-XX/about.json", b"?entity_name=post")]:
        assert server.raw_get(plain + suffix) == server.raw_get(plain), plain + suffix
    for target in [b"/about%3Fx", b"/about%23frag", S + b"robots.txt%3F"]:
        refused(server, target, allowed=(404,))


def test_oversized_urls_are_refused_not_crashed(server: Server) -> None:
    """REQ-04 (URL part): long names are a 404, a URL past granian's buffer a 414."""
    assert refused(server, b"/" + b"a" * 16_000, allowed=(404, 414)) in (404, 414)
    assert refused(server, S + b"a/" * 8_000, allowed=(404, 414)) in (404, 414)
    assert refused(server, b"/" + b"a" * 100_000, allowed=(414, 431)) in (414, 431)


CONTROL = [b"/about%00", b"/about%0a", b"/%0d%0aSet-Cookie:%20x=1", b"/post%09first"]
JSON_SHAPES = [b"/.perseus/page/xx-XX/about", b"/.perseus/page/fr-FR/about.json",
               b"/.perseus/page/xx-XX/post/nope.json", b"/.perseus/page/xx-XX", b"/.perseus/page/",
               b"/.perseus/page/xx-XX/.json.json"]
EVERY_CASE = [*TRAVERSAL, *ODD_FILES, *ALIASES, *INVALID_UTF8, *(S + t[1:] for t in INVALID_UTF8),
              *(b"/.perseus/page/xx-XX" + t + b".json" for t in INVALID_UTF8), *MALFORMED, *CONTROL,
              *JSON_SHAPES, *BELOW_INCREMENTAL, b"/post/a%252Fb", b"/post%2Ffirst", b"/about%3Fx",
              S + b"robots.txt%3F", b"../secret.txt", b"*", b"/" + b"a" * 16_000, b"/%2541", b"/%25zz"]


@pytest.fixture(scope="module")
def both_interfaces(hostile_site: Path) -> Iterator[tuple[Server, Server]]:
    (hostile_site / "static" / "gone.txt").write_text("soon deleted\n")
    rsgi, asgi = Server(hostile_site, interface="rsgi"), Server(hostile_site, interface="asgi")
    (hostile_site / "static" / "gone.txt").unlink()
    yield rsgi, asgi
    rsgi.close()
    asgi.close()


def test_both_interfaces_give_every_case_the_same_status(both_interfaces: tuple[Server, Server]) -> None:
    rsgi, asgi = both_interfaces
    differ = {}
    for target in EVERY_CASE:
        statuses = rsgi.raw_get(target)[0], asgi.raw_get(target)[0]
        if statuses[0] != statuses[1]:
            differ[target[:80]] = statuses
    assert len(EVERY_CASE) >= 100
    assert differ == {}
