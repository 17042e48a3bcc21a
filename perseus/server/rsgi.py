"""The RSGI adapter: granian's native interface, used in production. No logic lives here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..http.response import Response
from ..turbine.engine import Engine


class RSGIApp:
    """An RSGI application; the engine is opened in each worker after granian forks."""

    def __init__(self, open_engine: Callable[[], Engine]) -> None:
        self._open_engine = open_engine
        self.engine: Engine | None = None

    def __rsgi_init__(self, loop: Any) -> None:
        self.engine = self._open_engine()

    def __rsgi_del__(self, loop: Any) -> None:
        if self.engine is not None:
            self.engine.close()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return  # websockets are not part of the surface; granian closes them
        engine = self.engine
        if engine is None:  # a server that skipped __rsgi_init__
            engine = self.engine = self._open_engine()
        response = engine.respond(scope.method, scope.path, scope.headers, scope.query_string)
        if not isinstance(response, Response):  # PERF: only pages running user code await
            response = await response
        if response.file is not None:
            proto.response_file(response.status, response.headers, response.file)
        else:
            proto.response_bytes(response.status, response.headers, response.body)
