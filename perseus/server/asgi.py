"""The ASGI adapter: for test clients and servers other than granian. No logic lives here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter_ns
from typing import Any

from ..http.mounts import Mount
from ..http.response import Response
from ..http.urls import decode_target
from ..turbine.engine import Engine
from .access_log import AccessLog
from .mounts import Lifespans, child_scope, failed_answer, serve_asgi
from .observe import Observe, Observers
from .shutdown import WorkerStop

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ASGIApp:
    """An ASGI application; the engine is opened at lifespan start-up (once per worker).

    ``access_log`` makes the worker's access log when it starts (None: no access log).
    """

    def __init__(self, open_engine: Callable[[], Engine], shutdown_timeout: float,
                 access_log: Callable[[], AccessLog] | None = None) -> None:
        self._open_engine = open_engine
        self.engine: Engine | None = None
        self.stop = WorkerStop(shutdown_timeout, self._close)
        self.observers = Observers(access_log)
        self.observe: Observe | None = None
        self.lifespans = Lifespans(())

    def _open(self) -> Engine:
        engine = self.engine = self._open_engine()
        self.observe = self.observers.start(engine.metrics)
        return engine

    def _close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()
        self.observers.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        engine = self.engine if self.engine is not None else self._open()
        if scope["type"] == "websocket":  # only mounted apps take them
            mount = engine.mounts.find(scope["path"]) if engine.mounts is not None else None
            if mount is not None:
                state = self.lifespans.states.get(mount.prefix, {})
                mounted = {**scope, **child_scope(mount, engine.base_path, scope["path"], state)}
                await mount.app(mounted, receive, send)
            return
        if scope["type"] != "http":
            return
        observe = self.observe
        started = perf_counter_ns() if observe is not None else 0
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = decode_target(scope.get("raw_path") or scope["path"].encode())
        query = scope.get("query_string", b"").decode("latin-1")
        answer = engine.respond(scope["method"], path, headers, query, _body(receive))
        if isinstance(answer, Response):
            response = answer
        else:
            self.stop.running += 1
            try:
                if isinstance(answer, Mount):
                    mounted = {**scope, **child_scope(answer, engine.base_path, path,
                                                      self.lifespans.states.get(answer.prefix, {}))}
                    return await serve_asgi(answer, mounted, receive, send,
                                            failed_answer(engine.errors, scope["method"]))
                response = await answer
            finally:
                self.stop.running -= 1
        body = response.body
        if response.file is not None:
            with open(response.file, "rb") as file:
                body = file.read()
        answer_headers = self.stop.closing(response.headers) if self.stop.draining else response.headers
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer_headers]
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})
        if observe is not None:
            observe(scope["method"], path, response, started)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    engine = self._open()
                    self.lifespans = Lifespans(engine.app.mounts)
                    await self.lifespans.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.stop.watch(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.lifespans.shutdown()
                self._close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    """The request body's chunks, as the engine reads them (only when a route asks)."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
