"""The ``/.perseus/dev/events`` stream of ``perseus serve --watch`` (see ``dev_reload``)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ..dev_files import read_failure
from ..http.urls import DEV_EVENTS_PATH
from ..stores.immutable import read_build_id
from ..turbine.dev_reload import RECONNECT_MS
from .rsgi import RSGIApp

# How often an open stream checks whether dist/ was rebuilt under it.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
EVENT_HEADERS = [("content-type", "text/event-stream"), ("cache-control", "no-store"),
                 ("x-content-type-options", "nosniff")]


class DevReloadRSGI(RSGIApp):
    """The RSGI app plus the events stream; used only in watch mode."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto == "http" and scope.method == "GET" and scope.path == DEV_EVENTS_PATH:
            await self._events(proto)
        else:
            await super().__rsgi__(scope, proto)

    async def _events(self, proto: Any) -> None:
        engine = self.engine
        if engine is None:
            engine = self.engine = self._open_engine()
        served = engine.dist.build_id
        stream = proto.response_stream(200, EVENT_HEADERS)
        disconnected = asyncio.ensure_future(proto.client_disconnect())
        try:
            await stream.send_str(f"retry: {RECONNECT_MS}\ndata: {served}\n\n")
            shown: int | None = None
            idle = 0.0
            # NOTE: the stream ends as soon as dist/ holds another build (the server is
            # about to be replaced) or the server stops: granian's stop waits for open streams.
            while read_build_id(engine.dist.path) == served and not self.stop.draining:
                failure = read_failure(engine.dist.path, shown)  # a later build failed: shown on the page
                if failure is not None:
                    shown = failure[0]
                    await stream.send_str(f"event: failure\ndata: {orjson.dumps(failure[1]).decode()}\n\n")
                done, _ = await asyncio.wait([disconnected], timeout=POLL_SECONDS)
                if done:
                    return
                idle += POLL_SECONDS
                if idle >= KEEPALIVE_SECONDS:
                    await stream.send_str(": keep-alive\n\n")
                    idle = 0.0
        except RuntimeError:
            return  # granian's RSGIProtocolClosed: the browser went away mid-send
        finally:
            disconnected.cancel()
