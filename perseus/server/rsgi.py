"""The RSGI adapter: granian's native interface, used in production. No logic lives here."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from ..http.mounts import Mount
from ..http.response import Response
from ..turbine.engine import Engine
from .access_log import AccessLog
from .mounts import Lifespans, failed_answer, serve_rsgi, serve_rsgi_websocket
from .observe import Observe, Observers
from .shutdown import WorkerStop


class RSGIApp:
    """An RSGI application; the engine is opened in each worker after granian forks.

    ``shutdown_timeout`` bounds the worker's stop (``perseus.server.shutdown``);
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

    def __rsgi_init__(self, loop: Any) -> None:
        engine = self._open()
        self.lifespans = Lifespans(engine.app.mounts)
        loop.run_until_complete(self.lifespans.startup())  # a failed start-up stops the worker
        self.stop.watch(loop)

    def _open(self) -> Engine:
        engine = self.engine = self._open_engine()
        self.observe = self.observers.start(engine.metrics)
        return engine

    def __rsgi_del__(self, loop: Any) -> None:
        loop.run_until_complete(self.stop.wait_for_background(self.lifespans.tasks))
        loop.run_until_complete(self.lifespans.shutdown())
        self.stop.finish()

    def _close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            engine.close()
        self.observers.close()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        engine = self.engine
        if engine is None:  # a server that skipped __rsgi_init__
            engine = self._open()
        if scope.proto != "http":  # a websocket: only mounted apps take them (else granian's 403)
            if engine.mounts is not None and (mount := engine.mounts.find(scope.path)) is not None:
                await serve_rsgi_websocket(mount, scope, proto, engine.base_path,
                                           self.lifespans.states.get(mount.prefix, {}))
            return
        observe = self.observe
        started = perf_counter_ns() if observe is not None else 0
        # PERF: the protocol is the body's chunks (RSGI: async iteration): nothing made per request.
        response = engine.respond(scope.method, scope.path, scope.headers, scope.query_string, proto)
        if not isinstance(response, Response):  # PERF: only pages running user code await
            self.stop.running += 1
            try:
                if isinstance(response, Mount):
                    return await serve_rsgi(response, scope, proto, engine.base_path,
                                            self.lifespans.states.get(response.prefix, {}),
                                            failed_answer(engine.errors, scope.method))
                response = await response
            finally:
                self.stop.running -= 1
        headers = self.stop.closing(response.headers) if self.stop.draining else response.headers
        if response.file is not None:
            proto.response_file(response.status, headers, response.file)
        else:
            proto.response_bytes(response.status, headers, response.body)
        if observe is not None:
            observe(scope.method, scope.path, response, started)
