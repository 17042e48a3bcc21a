"""Running mounted ASGI apps (``PerseusApp(mounts=...)``) inside perseus's server.

The engine answers a path below a mount with its ``Mount``; the adapter then calls the app
here. On granian's RSGI interface ``serve_rsgi`` bridges: the request body is read from the
RSGI protocol chunk by chunk as ``http.request`` messages, the answer goes out with
``response_bytes`` when the app sends it in one piece and as a stream otherwise (each chunk
as the app sends it), and ``http.disconnect`` is given once the body is read and the client
goes. ``Lifespans`` runs each app's lifespan protocol once per worker.

The scope is Starlette's Mount's: ``root_path`` is the site's base path plus the prefix,
and ``path`` the whole path, which starts with ``root_path`` (the ASGI spec's reading:
asgiref#229, starlette#2400), so ``request.url`` and ``url_for`` are right. ``/api`` itself
goes to the app with the route path empty (Starlette answers it with a redirect to
``/api/``). Websockets to a mount are bridged too (``serve_rsgi_websocket``); RSGI's accept
takes no subprotocol or headers, so those of ``websocket.accept`` are not sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from ..errors import PerseusError
from ..http.mounts import Mount
from ..http.response import Response
from ..turbine.pages import HTML

log = logging.getLogger("perseus.server")

# 2.4: a send after the client left raises an OSError, so apps need no disconnect listener.
ASGI = {"version": "3.0", "spec_version": "2.4"}
# What stays as it is when a decoded path is spelled as a raw path again.
_RAW_SAFE = "/!$&'()*+,;=:@-._~"
LIFESPAN_TIMEOUT = 30.0
WS_CLOSED, WS_BYTES = 0, 1  # RSGI's websocket message kinds (2: text)


class ClientGone(OSError):
    """Raised by ``send`` once the client has gone (ASGI 2.4)."""


class MountStartupError(PerseusError):
    """A mounted app's lifespan start-up failed: the worker does not start."""


def child_scope(mount: Mount, base_path: str, path: str, state: dict[str, Any]) -> dict[str, Any]:
    """The keys a mounted app's scope gets from its mount, whichever server runs it."""
    return {"path": base_path + path, "root_path": base_path + mount.prefix, "state": dict(state),
            "asgi": ASGI}


def _address(value: str | None) -> tuple[str, int] | None:
    """RSGI's ``"host:port"`` (``"[::1]:80"`` too) as ASGI's ``(host, port)``."""
    if not value:
        return None
    host, _, port = value.rpartition(":")
    return (host.strip("[]"), int(port)) if port.isdigit() else (value, 0)


class _RSGIExchange:
    """``receive`` and ``send`` of one request, over granian's RSGI protocol."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.chunks = proto.__aiter__()
        self.body_done = False
        self.started = False
        self.finished = False
        self.status = 200
        self.headers: list[tuple[str, str]] = []
        self.stream: Any = None

    async def receive(self) -> dict[str, Any]:
        if not self.body_done:
            try:
                chunk = await self.chunks.__anext__()
            except StopAsyncIteration:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}
        await self.proto.client_disconnect()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = int(message["status"])
            self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())]
        elif kind == "http.response.body":
            if not self.started or self.finished:
                raise RuntimeError("http.response.body sent before http.response.start or after the end")
            body = bytes(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if self.stream is None and not more:  # PERF: a whole answer goes out in one piece
                self.finished = True
                self.proto.response_bytes(self.status, self.headers, body)
                return
            if self.stream is None:
                self.stream = self.proto.response_stream(self.status, self.headers)
            try:
                if body:
                    await self.stream.send_bytes(body)
            except RuntimeError as error:  # granian's RSGIProtocolClosed
                raise ClientGone(str(error)) from None
            self.finished = not more


async def serve_rsgi(mount: Mount, scope: Any, proto: Any, base_path: str, state: dict[str, Any],
                     failed: Callable[[], Response]) -> None:
    """Answer one RSGI request with the mounted app; ``failed()`` is the site's 500 page.

    An app that raises before it starts its answer gets the 500 page (the error is logged,
    never sent); one that raises after has its connection cut, so the client cannot take a
    half answer for a whole one.
    """
    exchange = _RSGIExchange(proto)
    path = scope.path
    asgi_scope = {
        "type": "http", "http_version": scope.http_version, "method": scope.method,
        "scheme": scope.scheme, "raw_path": quote(base_path + path, safe=_RAW_SAFE).encode("ascii"),
        "query_string": scope.query_string.encode("latin-1"),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
        "client": _address(scope.client), "server": _address(scope.server), "extensions": {},
        **child_scope(mount, base_path, path, state),
    }
    try:
        await mount.app(asgi_scope, exchange.receive, exchange.send)
    except ClientGone:
        return
    except Exception:
        log.exception("mounted app %s failed on %s %s", mount.prefix, scope.method, path)
        if exchange.finished:
            return  # answered before it raised (Starlette sends its own 500 first)
        if exchange.stream is not None:
            raise  # NOTE: granian then cuts the connection mid-answer
        _send(proto, failed())
        return
    if not exchange.started:
        log.error("mounted app %s returned without answering %s %s", mount.prefix, scope.method, path)
        _send(proto, failed())
    elif exchange.stream is None and not exchange.finished:
        proto.response_bytes(exchange.status, exchange.headers, b"")  # started, never sent a body


async def serve_asgi(mount: Mount, scope: dict[str, Any], receive: Any, send: Any,
                     failed: Callable[[], Response]) -> None:
    """Answer one ASGI request (``scope`` already the app's) with the mounted app; errors as
    ``serve_rsgi`` handles them."""
    started = False

    async def tracked(message: dict[str, Any]) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await mount.app(scope, receive, tracked)
    except Exception:
        log.exception("mounted app %s failed on %s %s", mount.prefix, scope["method"], scope["path"])
        if started:
            raise
    else:
        if started:
            return
        log.error("mounted app %s returned without answering %s %s", mount.prefix, scope["method"],
                  scope["path"])
    response = failed()
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": response.body})


def _send(proto: Any, response: Response) -> None:
    proto.response_bytes(response.status, response.headers, response.body)


class _RSGIWebsocket:
    """``receive`` and ``send`` of one websocket, over granian's RSGI websocket protocol."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: Any = None
        self.connected = False
        self.closed = False

    async def receive(self) -> dict[str, Any]:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.transport is None or self.closed:
            return {"type": "websocket.disconnect", "code": 1006}
        message = await self.transport.receive()
        if message.kind == WS_CLOSED:
            self.closed = True
            return {"type": "websocket.disconnect", "code": 1000}
        key = "bytes" if message.kind == WS_BYTES else "text"
        return {"type": "websocket.receive", key: message.data}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.closed:
            raise ClientGone("the websocket is closed")
        if kind == "websocket.accept" and self.transport is None:
            self.transport = await self.proto.accept()
        elif kind == "websocket.send" and self.transport is not None:
            try:
                if message.get("bytes") is not None:
                    await self.transport.send_bytes(bytes(message["bytes"]))
                else:
                    await self.transport.send_str(message.get("text") or "")
            except RuntimeError as error:  # granian's RSGIProtocolClosed
                self.closed = True
                raise ClientGone(str(error)) from None
        elif kind == "websocket.close":
            self.closed = True
            self.proto.close(int(message.get("code", 1000)))  # before accept: granian answers 403
        else:
            raise RuntimeError(f"unexpected {kind!r} on a websocket")


async def serve_rsgi_websocket(mount: Mount, scope: Any, proto: Any, base_path: str,
                               state: dict[str, Any]) -> None:
    """Run one websocket connection with the mounted app."""
    socket = _RSGIWebsocket(proto)
    protocols = scope.headers.get("sec-websocket-protocol") or ""
    asgi_scope = {
        "type": "websocket", "http_version": scope.http_version, "scheme": scope.scheme,
        "raw_path": quote(base_path + scope.path, safe=_RAW_SAFE).encode("ascii"),
        "query_string": scope.query_string.encode("latin-1"),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()],
        "client": _address(scope.client), "server": _address(scope.server), "extensions": {},
        "subprotocols": [p.strip() for p in protocols.split(",") if p.strip()],
        **child_scope(mount, base_path, scope.path, state),
    }
    try:
        await mount.app(asgi_scope, socket.receive, socket.send)
    except ClientGone:
        pass
    except Exception:
        log.exception("mounted app %s failed on the websocket %s", mount.prefix, scope.path)
    if not socket.closed:
        socket.closed = True
        proto.close(1000 if socket.transport is not None else 1011)


class _Lifespan:
    """One app's lifespan conversation: the app runs as a task until shutdown."""

    def __init__(self, mount: Mount) -> None:
        self.mount = mount
        self.state: dict[str, Any] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI, "state": self.state}
        try:
            await self.mount.app(scope, self.inbox.get, self.outbox.put)
        except Exception as error:
            await self.outbox.put({"type": "perseus.raised", "error": error})
        else:
            await self.outbox.put({"type": "perseus.returned"})

    async def startup(self) -> bool:
        """True if the app speaks the protocol; raises ``MountStartupError`` if it failed."""
        self.task = asyncio.ensure_future(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        try:
            reply = await asyncio.wait_for(self.outbox.get(), LIFESPAN_TIMEOUT)
        except TimeoutError:
            self.task.cancel()
            raise MountStartupError(f"mounted app {self.mount.prefix!r} did not finish its lifespan"
                                    f" start-up in {LIFESPAN_TIMEOUT:g}s") from None
        if reply["type"] == "lifespan.startup.complete":
            return True
        if reply["type"] == "lifespan.startup.failed":
            raise MountStartupError(f"mounted app {self.mount.prefix!r} failed its lifespan start-up:"
                                    f" {reply.get('message') or 'no reason given'}")
        # The spec: an app that raises or returns at once does not use lifespan; carry on.
        log.debug("mounted app %s does not use lifespan (%s)", self.mount.prefix, reply.get("error"))
        return False

    async def shutdown(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            reply = await asyncio.wait_for(self.outbox.get(), LIFESPAN_TIMEOUT)
        except TimeoutError:
            log.error("mounted app %s did not finish its lifespan shutdown in %gs",
                      self.mount.prefix, LIFESPAN_TIMEOUT)
            reply = {}
        if reply.get("type") == "lifespan.shutdown.failed":
            log.error("mounted app %s failed its lifespan shutdown: %s", self.mount.prefix,
                      reply.get("message"))
        if self.task is not None and not self.task.done():
            self.task.cancel()


def failed_answer(engine_errors: Any, method: str) -> Callable[[], Response]:
    """The site's own 500 page, made only when an app fails."""
    return lambda: engine_errors.answer(500, method, HTML)


class Lifespans:
    """The lifespan start-up and shutdown of every mounted app, once per worker.

    ``state(prefix)`` is the state each app's start-up filled in, copied into its requests'
    scopes as the spec says.
    """

    def __init__(self, mounts: Iterable[Mount]) -> None:
        self._lifespans = [_Lifespan(mount) for mount in mounts]
        self._running: list[_Lifespan] = []
        self.states = {lifespan.mount.prefix: lifespan.state for lifespan in self._lifespans}

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        """The apps' lifespan tasks, which run until shutdown (not background work)."""
        return {lifespan.task for lifespan in self._lifespans if lifespan.task is not None}

    async def startup(self) -> None:
        """Start every app in order; one that fails stops the ones started and raises."""
        for lifespan in self._lifespans:
            try:
                if await lifespan.startup():
                    self._running.append(lifespan)
            except BaseException:
                await self.shutdown()
                raise

    async def shutdown(self) -> None:
        """Shut the started apps down, the last started first."""
        running, self._running = self._running, []
        for lifespan in reversed(running):
            await lifespan.shutdown()
