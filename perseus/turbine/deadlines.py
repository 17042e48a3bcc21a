"""The request timeout for user code on the event loop: one ticking timer per worker.

PERF: ``asyncio.timeout`` schedules and cancels a timer handle per request, about 5 µs
of a request-state page's 45 (measured: 0.91 -> 0.75 of a raw RSGI app). Here a request
costs two dict operations; a timer runs only while requests are watched, every
``TICK`` seconds, and cancels the tasks past their deadline, so a timeout fires up to
``TICK`` late.
"""

from __future__ import annotations

import asyncio
import time

TICK = 0.1


class Deadlines:
    """Cancels the tasks it watches once they outlive ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._watched: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._ticking = False

    def watch(self) -> asyncio.Task[object] | None:
        """Start the current task's clock; returns the task, for ``expired`` and ``forget``."""
        task = asyncio.current_task()
        if task is None:
            return None
        self._watched[task] = time.monotonic() + self.timeout
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_later(TICK, self._tick)
        return task

    def expired(self, task: asyncio.Task[object] | None) -> bool:
        """Whether a ``CancelledError`` in ``task`` is this timeout's (then undone: the task
        goes on to answer 504); False for any other cancellation, which must propagate."""
        if task is None or task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def forget(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            self._watched.pop(task, None)
            self._expired.discard(task)

    def _tick(self) -> None:
        now = time.monotonic()
        for task, deadline in list(self._watched.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._watched:
            asyncio.get_running_loop().call_later(TICK, self._tick)
        else:
            self._ticking = False
