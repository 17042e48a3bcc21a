"""An in-process test client: the engine the servers use, answering without sockets.

    from perseus.testing import TestClient

    def test_home():
        with TestClient("path/to/site") as client:      # builds into path/to/site/dist
            assert client.get("/").status_code == 200

Requests go through ``Engine.respond`` as the server adapters send them: the path decoded
as the ASGI adapter decodes ``raw_path`` (a bad one is the engine's 400), header names
lower-cased, the query string raw. The engine runs on an event loop in a thread of its own,
so regenerations it starts in the background carry on between requests, as in a server.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import orjson

from .app import PerseusApp
from .builder.build import build_site
from .http.mounts import Mount
from .http.urls import decode_target
from .loader import app_spec, load_app
from .request import Headers
from .server.mounts import Lifespans, child_scope, failed_answer, serve_asgi
from .settings import Settings, load_settings, set_environment
from .turbine.engine import Engine, open_engine

__all__ = ["TestClient", "TestResponse"]

USER_AGENT = "perseus-testclient"
T = TypeVar("T")
# What a client leaves unescaped in a request target (RFC 3986 pchar, plus "%" so that
# targets already escaped stay as they are); everything else is sent UTF-8 percent-encoded.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# The modules the last site imported came from its project: dropped before the next import.
_site_modules: set[str] = set()


class TestResponse:
    """One answer: ``status_code``, ``headers`` and the body as sent (never decompressed)."""

    __test__ = False  # not a pytest test class

    def __init__(self, status_code: int, headers: Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        """The body decoded with the charset of its content type (UTF-8 when it names none)."""
        _, _, charset = (self.headers.get("content-type") or "").partition("charset=")
        return self.content.decode(charset.strip() or "utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.content)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code}, {len(self.content)} bytes>"


class TestClient:
    """A site built (or opened) and answered in this process, as ``perseus serve`` would.

    Args:
        site: the project directory, or a ``PerseusApp`` (its ``root`` is the project).
            From a directory the app is imported anew for the build and again for serving,
            as the CLI's separate processes do, and sites that all name their module
            ``app.py`` never see each other's.
        app: ``module:attribute`` naming the app, as ``--app`` (default: ``PERSEUS_APP``,
            ``[tool.perseus] app``, then ``app:app``).
        build: build into ``dist`` first (``perseus build``); ``False`` serves the one there is.
        dist: where the build is (default: ``<project>/dist``).
        env: environment variables as the server would have them, such as
            ``PERSEUS_GENERATION_TIMEOUT``: the settings are read from them (and
            ``[tool.perseus]``) once, as ``perseus serve`` reads its own, and they are set
            in this process's environment while the client is open (restored by ``close``)
            for the app's own code to read.
        timeout: seconds one request may take before ``TimeoutError``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, site: str | os.PathLike[str] | PerseusApp, *, app: str | None = None,
                 build: bool = True, dist: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None, timeout: float = 30) -> None:
        self.project = site.root if isinstance(site, PerseusApp) else Path(site).resolve()
        self.dist = Path(dist).resolve() if dist is not None else self.project / "dist"
        self.timeout = timeout
        self._restore_environment = set_environment(env or {})
        self._added_path = str(self.project) not in sys.path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="perseus-testclient", daemon=True)
        self._thread.start()
        self._engine: Engine | None = None
        self._lifespans = Lifespans(())
        self._callers: set[asyncio.Task[Any]] = set()
        try:
            self.settings: Settings = load_settings(self.project)
            spec = app_spec(app, self.settings)
            load: Callable[[], PerseusApp] = (
                (lambda: site) if isinstance(site, PerseusApp) else lambda: self._import(spec))
            if build:
                self._run(build_site(load(), self.dist, self.settings), None)
            self._engine = self._run(self._call(lambda: open_engine(load(), self.dist, self.settings)), None)
            self._lifespans = Lifespans(self._engine.app.mounts)
            self._run(self._lifespans.startup(), None)
        except BaseException:
            self.close()
            raise

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                params: Mapping[str, str] | None = None, content: bytes | None = None,
                json: Any = None) -> TestResponse:
        """Send one request; ``path`` may carry a query string, ``params`` adds to it.

        ``content`` is the body as bytes (read by mounted apps and the routes that take a
        body); ``json`` a value sent as a JSON body (with its content type, unless
        ``headers`` name one).
        """
        if json is not None:
            content = orjson.dumps(json)
            headers = {"content-type": "application/json", **(headers or {})}
        return self._run(self._answer(method, path, headers, params, content), self.timeout)

    def get(self, path: str, *, headers: Mapping[str, str] | None = None,
            params: Mapping[str, str] | None = None) -> TestResponse:
        return self.request("GET", path, headers=headers, params=params)

    def head(self, path: str, *, headers: Mapping[str, str] | None = None) -> TestResponse:
        return self.request("HEAD", path, headers=headers)

    def post(self, path: str, *, headers: Mapping[str, str] | None = None, content: bytes | None = None,
             json: Any = None) -> TestResponse:
        return self.request("POST", path, headers=headers, content=content, json=json)

    def get_many(self, paths: Iterable[str], *,
                 headers: Mapping[str, str] | None = None) -> list[TestResponse]:
        """GET every path at once (concurrent first requests, say); the answers in order."""
        async def every() -> list[TestResponse]:
            return list(await asyncio.gather(*(self._answer("GET", p, headers, None, None) for p in paths)))
        return self._run(every(), self.timeout)

    def wait_idle(self, timeout: float = 10) -> None:
        """Wait until the work the engine started in the background (regenerations) is done."""
        async def idle() -> None:
            while busy := (asyncio.all_tasks() - self._callers - self._lifespans.tasks
                           - {asyncio.current_task()}):
                await asyncio.wait(busy)
        self._run(asyncio.wait_for(idle(), timeout), None)

    def close(self) -> None:
        """Stop background work, close the engine and the loop, restore the environment."""
        if self._loop.is_running():
            self._run(self._shutdown(), None)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()
        self._restore_environment()
        self._restore_environment = lambda: None
        if self._added_path and str(self.project) in sys.path:
            sys.path.remove(str(self.project))
            self._added_path = False

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    async def _answer(self, method: str, path: str, headers: Mapping[str, str] | None,
                      params: Mapping[str, str] | None, content: bytes | None) -> TestResponse:
        engine = self._engine
        assert engine is not None, "the client is closed"
        target, _, query = path.partition("#")[0].partition("?")
        query = quote(query, safe=_QUERY_SAFE)
        if params:
            query = "&".join(filter(None, [query, urlencode(params)]))
        sent = {"user-agent": USER_AGENT, **{k.lower(): v for k, v in (headers or {}).items()}}
        if content is not None:
            sent.setdefault("content-length", str(len(content)))
        method = method.upper()
        # NOTE: decoded as the adapters decode it (http.urls.decode_target), so a bad path
        # gets the engine's own 400.
        decoded = decode_target(quote(target, safe=_PATH_SAFE).encode("ascii"))
        answer: Any = engine.respond(method, decoded, sent, query, _chunks(content or b""))
        if isinstance(answer, Mount):
            return await self._mounted(engine, answer, method, decoded, sent, query, content or b"")
        if inspect.isawaitable(answer):
            answer = await answer
        body: bytes = answer.body
        if answer.file is not None:
            body = Path(answer.file).read_bytes()
        return TestResponse(answer.status, Headers(answer.headers), body)

    async def _mounted(self, engine: Engine, mount: Mount, method: str, path: str,
                       headers: Mapping[str, str], query: str, content: bytes) -> TestResponse:
        """A mounted app's answer: the body sent in one message, the answer gathered whole."""
        scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": "http",
                 "raw_path": quote(path, safe=_PATH_SAFE).encode("ascii"),
                 "query_string": query.encode("ascii"), "client": ("testclient", 50000),
                 "server": ("testserver", 80), "extensions": {},
                 "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
                 **child_scope(mount, engine.base_path, path, self._lifespans.states.get(mount.prefix, {}))}
        pending = [{"type": "http.request", "body": content, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return pending.pop() if pending else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await serve_asgi(mount, scope, receive, send, failed_answer(engine.errors, method))
        start = sent[0]
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", ())]
        body = b"".join(m.get("body", b"") for m in sent[1:])
        return TestResponse(start["status"], Headers(pairs), body)

    def _import(self, spec: str) -> PerseusApp:
        """The app imported anew, as each ``perseus`` process imports it.

        The modules a site brought in (this one, or another client's) are dropped from
        ``sys.modules`` first, so that two sites with an ``app.py`` each never share one.
        """
        for name in _site_modules:
            sys.modules.pop(name, None)
        _site_modules.clear()
        before = set(sys.modules)
        app = load_app(spec, self.project)
        for name in set(sys.modules) - before:
            path = Path(getattr(sys.modules[name], "__file__", None) or "/").resolve()
            if path.is_relative_to(self.project) and "site-packages" not in path.parts:
                _site_modules.add(name)
        return app

    async def _shutdown(self) -> None:
        await self._lifespans.shutdown()
        tasks = asyncio.all_tasks() - self._callers
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    @staticmethod
    async def _call(function: Callable[[], T]) -> T:
        return function()

    def _run(self, work: Awaitable[T], timeout: float | None) -> T:
        """Run ``work`` on the client's loop and wait for its result."""
        async def wrapped() -> T:
            me = asyncio.current_task()
            assert me is not None
            self._callers.add(me)  # waited on by a thread: not background work
            try:
                return await work
            finally:
                self._callers.discard(me)
        future = asyncio.run_coroutine_threadsafe(wrapped(), self._loop)
        return future.result(timeout)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    """A request body as a server hands it to the engine: its chunks."""
    if content:
        yield content
