"""Mounted ASGI apps (``PerseusApp(mounts=...)``): a real Starlette app and a plain ASGI
callable served below their prefixes by real granian (RSGI, bridged) and by the ASGI adapter,
plus the in-process TestClient and the checks made when the app is constructed or built."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from perseus import PerseusApp, Template
from perseus.errors import ConfigurationError
from perseus.testing import TestClient
from tests.conftest import Server, browser_page, perseus
from tests.processes import children, wait_for

MOUNT_APP = '''\
import asyncio
import contextlib
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from perseus import PerseusApp, Template

STARTED = []


async def echo(request):
    body = await request.body()
    return JSONResponse({
        "method": request.method, "path": request.url.path, "route": request.scope["path"],
        "root_path": request.scope["root_path"], "query": dict(request.query_params),
        "raw_query": request.scope["query_string"].decode(), "x_test": request.headers.getlist("x-test"),
        "length": len(body), "sum": sum(body) % 65521, "started": STARTED,
        "client": list(request.scope["client"] or []), "server": list(request.scope["server"] or []),
        "scheme": request.scope["scheme"], "http_version": request.scope["http_version"],
        "url_for": str(request.url_for("echo")), "state": request.state.marker,
    })


async def chunks(request):
    async def count():
        await request.body()
        for i in range(int(request.query_params.get("n", "3"))):
            yield f"chunk {i}\\n"
            # The test sees each chunk before the next one is made.
            await asyncio.sleep(float(request.query_params.get("pause", "0")))
    return StreamingResponse(count(), media_type="text/plain", headers={"x-streamed": "yes"})


async def teapot(request):
    return PlainTextResponse("short and stout", status_code=418, headers={"x-kettle": "on"})


async def boom(request):
    raise RuntimeError("secret detail")


async def boom_midway(request):
    async def parts():
        yield b"first part "
        raise RuntimeError("secret detail")
    return StreamingResponse(parts())


async def ws(websocket):
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.scope['root_path']} {websocket.url.path}")
    await websocket.send_text("echo " + await websocket.receive_text())
    try:
        await websocket.receive_text()
    except WebSocketDisconnect:
        pass


@contextlib.asynccontextmanager
async def lifespan(app):
    STARTED.append(os.getpid())
    yield {"marker": "from lifespan"}
    with open(os.environ.get("MOUNT_STOPPED", os.devnull), "a") as stopped:
        stopped.write(f"{os.getpid()}\\n")


api = Starlette(routes=[
    Route("/echo", echo, methods=["GET", "POST", "PUT", "DELETE"], name="echo"),
    Route("/", echo, methods=["GET"]),
    Route("/chunks", chunks, methods=["GET", "POST"]),
    Route("/teapot", teapot),
    Route("/boom", boom),
    Route("/boom-midway", boom_midway),
    WebSocketRoute("/ws", ws),
], lifespan=lifespan)


async def hook(scope, receive, send):
    """A plain ASGI callable: no framework."""
    if scope["type"] != "http":
        return  # no lifespan
    if scope["path"].endswith("/boom"):
        raise RuntimeError("secret detail")
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = f"{scope['method']} {scope['path']} {scope['root_path']} {len(body)}".encode()
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"text/plain"), (b"x-hook", b"1")]})
    await send({"type": "http.response.body", "body": text})


app = PerseusApp(
    templates=[Template("index", view=lambda ctx, state: "<h1>Home</h1>"),
               Template("apiary", view=lambda ctx, state: "<h1>Bees</h1>")],
    error_views={500: lambda ctx, error: "<h1>Our own 500</h1>"},
    mounts={"/api": api, "/hooks/cms": hook},
)
'''

BIG = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("mounts") / "site"
    project.mkdir()
    (project / "app.py").write_text(MOUNT_APP)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module", params=["rsgi", "asgi"])
def server(request: pytest.FixtureRequest, site: Path):
    served = Server(site, interface=request.param, workers=1)
    yield served
    served.close()


def test_a_starlette_app_sees_method_path_root_path_query_and_headers(server: Server) -> None:
    for method in ("GET", "POST", "PUT", "DELETE"):
        answer = server.client.request(method, "/api/echo?a=1&b=%C3%A9&a=2",
                                       headers=[("x-test", "one"), ("x-test", "two")])
        assert answer.status_code == 200, answer.text
        seen = answer.json()
        assert seen["method"] == method
        assert seen["path"] == "/api/echo" and seen["route"] == "/api/echo"
        assert seen["root_path"] == "/api"
        assert seen["query"] == {"a": "2", "b": "é"} and seen["raw_query"] == "a=1&b=%C3%A9&a=2"
        assert seen["x_test"] == ["one", "two"]
        assert seen["url_for"] == f"http://127.0.0.1:{server.port}/api/echo"
        assert seen["client"][0] == "127.0.0.1" and int(seen["server"][1]) == server.port
        assert seen["scheme"] == "http" and seen["http_version"] == "1.1"
        assert seen["state"] == "from lifespan" and len(seen["started"]) == 1


def test_a_large_request_body_arrives_whole_sent_at_once_or_in_chunks(server: Server) -> None:
    whole = server.client.post("/api/echo", content=BIG).json()
    assert (whole["length"], whole["sum"]) == (len(BIG), sum(BIG) % 65521)

    def pieces():
        for start in range(0, len(BIG), 50_000):
            yield BIG[start:start + 50_000]

    chunked = server.client.post("/api/echo", content=pieces()).json()  # Transfer-Encoding: chunked
    assert (chunked["length"], chunked["sum"]) == (len(BIG), sum(BIG) % 65521)


def test_a_streaming_response_streams(server: Server) -> None:
    with server.client.stream("GET", "/api/chunks?n=3&pause=3") as answer:
        assert answer.status_code == 200 and answer.headers["x-streamed"] == "yes"
        lines = answer.iter_lines()
        assert next(lines) == "chunk 0"
        # Chunk 0 arrived while the app still sleeps before making chunk 1: not buffered.
        started = time.monotonic()
        assert next(lines) == "chunk 1"
        assert time.monotonic() - started > 1
        assert list(lines) == ["chunk 2"]


def test_statuses_and_headers_of_the_app_are_sent_as_they_are(server: Server) -> None:
    answer = server.get("/api/teapot")
    assert answer.status_code == 418 and answer.text == "short and stout"
    assert answer.headers["x-kettle"] == "on"
    assert server.get("/api/nothing-here").status_code == 404  # the app's own 404
    assert server.client.patch("/api/echo").status_code == 405


def test_the_prefix_itself_and_paths_beside_it(server: Server) -> None:
    root = server.get("/api/")
    assert root.status_code == 200 and root.json()["path"] == "/api/"
    bare = server.get("/api", follow_redirects=False)  # Starlette redirects to /api/
    assert bare.status_code == 307 and bare.headers["location"].endswith("/api/")
    assert "Bees" in server.get("/apiary").text  # a page beside the prefix is still a page
    assert "Home" in server.get("/").text


def test_a_plain_asgi_callable(server: Server) -> None:
    answer = server.client.post("/hooks/cms/publish", content=b"x" * 1000)
    assert answer.status_code == 202 and answer.headers["x-hook"] == "1"
    assert answer.text == "POST /hooks/cms/publish /hooks/cms 1000"
    assert server.client.post("/hooks/cms").text == "POST /hooks/cms /hooks/cms 0"


def test_an_app_that_raises_before_answering_gets_the_sites_500(server: Server) -> None:
    answer = server.get("/hooks/cms/boom")
    assert answer.status_code == 500
    assert "Our own 500" in answer.text and "secret" not in answer.text
    assert "secret detail" in server.log.read_text()  # logged, with its traceback
    # Starlette answers its own 500 (without debug, no detail) before it raises.
    starlette = server.get("/api/boom")
    assert starlette.status_code == 500 and "secret" not in starlette.text
    assert server.get("/api/teapot").status_code == 418  # the worker carries on


def test_an_app_that_raises_midway_ends_its_answer_there(server: Server) -> None:
    # NOTE: granian's RSGI stream cannot be aborted: the chunked answer ends at the failure
    # (granian's own ASGI cuts the connection instead). Either way nothing after it is sent
    # and the worker carries on.
    try:
        with server.client.stream("GET", "/api/boom-midway") as answer:
            body = b"".join(answer.iter_bytes())
        assert body == b"first part "
    except httpx.HTTPError:
        pass
    assert server.get("/api/teapot").status_code == 418


def test_a_client_that_leaves_a_stream_does_not_stop_the_worker(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /api/chunks?n=50&pause=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in sock.recv(4096)
    time.sleep(0.5)
    assert server.get("/api/teapot").status_code == 418


# --- the TestClient, and what is checked when the app is made or built


def test_the_test_client_routes_mounts(site: Path, tmp_path: Path) -> None:
    with TestClient(site, dist=tmp_path / "dist") as client:
        seen = client.get("/api/echo", params={"q": "1"}).json()
        assert (seen["path"], seen["root_path"], seen["query"]) == ("/api/echo", "/api", {"q": "1"})
        assert seen["state"] == "from lifespan"
        posted = client.request("POST", "/api/echo", content=b"abc").json()
        assert posted["length"] == 3
        assert client.request("POST", "/hooks/cms/x", content=b"12").text == "POST /hooks/cms/x /hooks/cms 2"
        assert client.get("/api/teapot").status_code == 418
        failed = client.get("/hooks/cms/boom")
        assert failed.status_code == 500 and "Our own 500" in failed.text
        assert "Home" in client.get("/").text


async def _noop(scope: object, receive: object, send: object) -> None:
    pass


@pytest.mark.parametrize(("mounts", "message"), [
    ({"api": _noop}, "must be a URL path"),
    ({"/": _noop}, "must be a URL path"),
    ({"/api/": _noop}, "ends with '/'"),
    ({"/.perseus/x": _noop}, "reserved for perseus"),
    ({"/a//b": _noop}, "plain path"),
    ({"/api": _noop, "/api/v1": _noop}, "overlap"),
    ({"/api": "not an app"}, "must be an ASGI app"),
])
def test_bad_mounts_are_refused_when_the_app_is_made(tmp_path: Path, mounts: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PerseusApp(templates=[Template("index", view=lambda ctx, state: "")], mounts=mounts,
                   root=tmp_path)  # type: ignore[arg-type]


def test_a_static_alias_below_a_mount_is_refused(tmp_path: Path) -> None:
    (tmp_path / "robots.txt").write_text("")
    with pytest.raises(ConfigurationError, match="below a mount"):
        PerseusApp(templates=[Template("index", view=lambda ctx, state: "")], root=tmp_path,
                   mounts={"/api": _noop}, static_aliases={"/api/robots.txt": "robots.txt"})


def test_a_page_below_a_mount_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from perseus import PerseusApp, Template\n"
        "async def api(scope, receive, send): pass\n"
        "app = PerseusApp(templates=[Template('api', view=lambda ctx, state: '',"
        " build_paths=lambda: ['', 'x'])], mounts={'/api': api})\n")
    done = perseus("build", cwd=tmp_path, check=False)
    assert done.returncode != 0
    assert "page '/api/x' is below the mount '/api'" in done.stderr


FAILING_LIFESPAN_APP = '''\
import contextlib

from starlette.applications import Starlette

from perseus import PerseusApp, Template


async def ws(websocket):
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.scope['root_path']} {websocket.url.path}")
    await websocket.send_text("echo " + await websocket.receive_text())
    try:
        await websocket.receive_text()
    except WebSocketDisconnect:
        pass


@contextlib.asynccontextmanager
async def lifespan(app):
    raise RuntimeError("database unreachable")
    yield


app = PerseusApp(templates=[Template("index", view=lambda ctx, state: "")],
                 mounts={"/api": Starlette(lifespan=lifespan)})
'''


def test_each_worker_shuts_the_app_down_when_the_server_stops(site: Path, tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    server = Server(site, workers=2, env={"MOUNT_STOPPED": str(stopped)})
    try:
        wait_for(lambda: len(children(server.process.pid)) == 2, 30, "both workers")
        workers = children(server.process.pid)
        server.process.send_signal(signal.SIGTERM)  # the main process alone, as supervisors do
        assert server.process.wait(60) == 0
    finally:
        server.close()
    assert {int(pid) for pid in stopped.read_text().split()} == workers


def test_a_failing_lifespan_start_up_stops_the_server(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(FAILING_LIFESPAN_APP)
    done = perseus("serve", "--port", "0", cwd=tmp_path, check=False, timeout=90)
    assert done.returncode != 0
    assert "mounted app '/api' failed its lifespan start-up" in done.stdout + done.stderr
    assert "database unreachable" in done.stdout + done.stderr


WEBSOCKET_TALK = """async (url) => await new Promise((resolve, reject) => {
    const socket = new WebSocket(url), got = [];
    socket.onopen = () => socket.send("ping");
    socket.onmessage = (event) => { got.push(event.data); if (got.length === 2) socket.close(1000); };
    socket.onclose = (event) => resolve({got, code: event.code});
    socket.onerror = () => reject(new Error("websocket error"));
})"""


def test_a_websocket_to_a_mount_reaches_the_app(server: Server, browser: Browser) -> None:
    with browser_page(browser) as page:
        page.goto(server.url + "/")
        talk = page.evaluate(WEBSOCKET_TALK, f"ws://127.0.0.1:{server.port}/api/ws")
    assert talk == {"got": ["hello /api /api/ws", "echo ping"], "code": 1000}


def test_a_websocket_elsewhere_is_refused(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 403")


def test_a_site_with_mounts_cannot_be_exported(tmp_path: Path) -> None:
    from perseus.builder.export import refuse_server_strategies
    from perseus.errors import ExportError

    app = PerseusApp(templates=[Template("index", view=lambda ctx, state: "")], root=tmp_path,
                     mounts={"/api": _noop})
    with pytest.raises(ExportError, match="mount '/api'"):
        refuse_server_strategies(app)
