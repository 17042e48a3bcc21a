"""The ASGI adapter: for test clients and servers other than granian. No logic lives here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..http.mounts import Mount
from ..http.response import Response
from ..http.urls import decode_target
from ..turbine.engine import Engine
from .mounts import Lifespans, child_scope, failed_answer, serve_asgi
from .shutdown import WorkerStop

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ASGIApp:
    """An ASGI application; the engine is opened at lifespan start-up (once per worker)."""

    def __init__(self, open_engine: Callable[[], Engine], shutdown_timeout: float) -> None:
        self._open_engine = open_engine
        self.engine: Engine | None = None
        self.stop = WorkerStop(shutdown_timeout, self._close)
        self.lifespans = Lifespans(())

    def _close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.engine is None:
            self.engine = self._open_engine()
        if scope["type"] == "websocket":  # only mounted apps take them
            mount = self.engine.mounts.find(scope["path"]) if self.engine.mounts is not None else None
            if mount is not None:
                state = self.lifespans.states.get(mount.prefix, {})
                mounted = {**scope, **child_scope(mount, self.engine.base_path, scope["path"], state)}
                await mount.app(mounted, receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = decode_target(scope.get("raw_path") or scope["path"].encode())
        query = scope.get("query_string", b"").decode("latin-1")
        engine = self.engine
        answer = engine.respond(scope["method"], path, headers, query)
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

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.engine = self._open_engine()
                    self.lifespans = Lifespans(self.engine.app.mounts)
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
