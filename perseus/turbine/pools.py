"""Threads for sync user code, bounded: work beyond them and a short queue is refused at
once (``Overloaded``, answered 503) instead of waiting without bound, and so is queued
work that no thread takes within ``QUEUE_PATIENCE`` (its threads are hung or swamped).

Each worker has two: one for work a visitor waits on (request state, a first
generation) and one for background regenerations, so a hung upstream in one never
delays the other. A thread cannot be stopped: a call past its deadline keeps its thread
until it returns; such calls are counted (``hung``) and logged.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from ..errors import Overloaded

log = logging.getLogger("perseus.request")
# Calls admitted beyond the threads, waiting for one: a short burst, never an unbounded queue.
QUEUE_PER_THREAD = 4
# How long queued work waits for a thread before it is refused: while threads hang, queued
# calls would otherwise wait out the whole request timeout behind them.
QUEUE_PATIENCE = 0.5
Work = tuple[Future[Any], int, Callable[..., Any], tuple[Any, ...]]


class UserPool(Executor):
    """Threads that refuse work when ``threads * (1 + QUEUE_PER_THREAD)`` calls are already
    admitted, and know which of their calls outlived ``deadline`` seconds.

    NOTE: not a ``ThreadPoolExecutor``: its threads are joined when the interpreter exits,
    so one hung call would hold a stopping worker for as long as it hangs. These are
    daemon threads: a worker that stops leaves hung calls behind.
    """

    def __init__(self, name: str, threads: int, deadline: float) -> None:
        self.name = name
        self.threads = threads
        self.limit = threads * (1 + QUEUE_PER_THREAD)
        self.deadline = deadline
        self.refused = 0
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # admitted calls by number, with when they were admitted
        self._calls = 0
        self._work: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._serve, name=f"perseus-{name}-{n}", daemon=True)
                         for n in range(threads)]
        for worker in self._workers:
            worker.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("UserPool.submit takes positional arguments only")
        return self._admit(fn, args)[0]

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a thread, awaited.

        Raises:
            Overloaded: the pool is full, or no thread took the call within ``QUEUE_PATIENCE``.
        """
        future, call, queued = self._admit(fn, args)
        waiting = asyncio.wrap_future(future)
        if not queued:  # PERF: a thread is free, no watch needed
            return await waiting
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), QUEUE_PATIENCE)
        except TimeoutError:
            if not future.cancel():  # a thread took it meanwhile: wait for the result
                return await waiting
            self._finish(call)
            raise Overloaded(f"no {self.name} thread was free within {QUEUE_PATIENCE:g}s:"
                             f" {self.hung} call(s) hung past their deadline") from None

    def _admit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Future[Any], int, bool]:
        """Queue ``fn(*args)``: its future, its number, and whether every thread was busy."""
        with self._lock:
            admitted = len(self._started)
            if admitted >= self.limit:
                self.refused += 1
                raise Overloaded(f"all {self.threads} {self.name} threads are busy and"
                                 f" {self.limit - self.threads} calls wait for one")
            self._calls += 1
            call = self._calls
            self._started[call] = time.monotonic()
        future: Future[Any] = Future()
        self._work.put((future, call, fn, args))
        return future, call, admitted >= self.threads

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            while True:
                try:
                    work = self._work.get_nowait()
                except queue.Empty:
                    break
                if work is not None:
                    work[0].cancel()
                    self._finish(work[1])
        for _ in self._workers:
            self._work.put(None)
        if wait:
            for worker in self._workers:
                worker.join()

    def _serve(self) -> None:
        while (work := self._work.get()) is not None:
            future, call, fn, args = work
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                self._finish(call)

    def _finish(self, call: int) -> None:
        with self._lock:
            started = self._started.pop(call, None)
        if started is not None and time.monotonic() - started > self.deadline:
            log.warning("a sync %s call returned after %.1fs, past its %gs deadline",
                        self.name, time.monotonic() - started, self.deadline)

    @property
    def hung(self) -> int:
        """Calls still running past their deadline (their threads cannot be stopped)."""
        cutoff = time.monotonic() - self.deadline
        with self._lock:
            return sum(1 for started in self._started.values() if started < cutoff)
