"""Threads for sync user code, bounded: work beyond them and a short queue is refused at
once (``Overloaded``, answered 503) instead of waiting without bound.

Each worker has two: one for work a visitor waits on (request state, a first
generation) and one for background regenerations, so a hung upstream in one never
delays the other. A thread cannot be stopped: a call past its deadline keeps its thread
until it returns; such calls are counted (``hung``) and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import Overloaded

log = logging.getLogger("perseus.request")
# Calls admitted beyond the threads, waiting for one: a short burst, never an unbounded queue.
QUEUE_PER_THREAD = 4


class UserPool(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` that refuses work when ``threads * (1 + QUEUE_PER_THREAD)``
    calls are already admitted, and knows which of its calls outlived ``deadline`` seconds."""

    def __init__(self, name: str, threads: int, deadline: float) -> None:
        super().__init__(threads, thread_name_prefix=f"perseus-{name}")
        self.name = name
        self.threads = threads
        self.limit = threads * (1 + QUEUE_PER_THREAD)
        self.deadline = deadline
        self.refused = 0
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # admitted calls by id, with when they were admitted
        self._calls = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if len(self._started) >= self.limit:
                self.refused += 1
                raise Overloaded(f"all {self.threads} {self.name} threads are busy and"
                                 f" {self.limit - self.threads} calls wait for one")
            self._calls += 1
            call = self._calls
            self._started[call] = time.monotonic()
        try:
            return super().submit(self._run, call, fn, *args, **kwargs)
        except BaseException:
            self._finish(call)
            raise

    def _run(self, call: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            self._finish(call)

    def _finish(self, call: int) -> None:
        with self._lock:
            started = self._started.pop(call, None)
        if started is not None and time.monotonic() - started > self.deadline:
            log.warning("a sync %s call returned after %.1fs, past its %gs deadline",
                        self.name, time.monotonic() - started, self.deadline)

    @property
    def busy(self) -> int:
        """Calls admitted and not yet returned (running or queued)."""
        return len(self._started)

    @property
    def hung(self) -> int:
        """Calls still running past their deadline (their threads cannot be stopped)."""
        cutoff = time.monotonic() - self.deadline
        with self._lock:
            return sum(1 for started in self._started.values() if started < cutoff)
