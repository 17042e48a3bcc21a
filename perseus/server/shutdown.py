"""Stopping a server: drain, answer what is in flight, close the store, exit 0, all within
``PERSEUS_SHUTDOWN_TIMEOUT``.

granian alone stops accepting on SIGTERM at once and closes idle keep-alive connections,
so a client sending its next request on one at that moment loses it (a rolling restart
lost one or two requests per restart so), and it waits without bound for requests whose
user code hangs. With ``t0`` the signal to the main process:

* ``t0``: ``GracefulStop`` (main process) tells each worker (``DRAIN_SIGNAL``) and
  marks it as stopping, so granian neither reports nor respawns it when it exits.
  ``WorkerStop`` (each worker) answers from then on with ``connection: close``: every
  keep-alive client is told to reconnect, to whichever server listens on the port.
* ``t0 + drain``: granian stops its workers; each stops accepting, closes its idle
  connections and finishes the requests in flight, then waits for background work
  (regenerations committing to the store), closes the engine (the store) and exits.
* ``t0 + timeout``: a worker still running is cut: engine closed, process exited.
* ``t0 + timeout + KILL_MARGIN_SECONDS``: granian kills whatever still runs.

A second signal skips the rest of the drain. Where a supervisor signals every process
at once (a terminal's Ctrl-C, systemd's default ``KillMode``), the workers stop at
once without draining, and the rest is the same.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Set
from multiprocessing.connection import wait as wait_for_ends
from typing import Any

log = logging.getLogger("perseus.server")

# None on Windows: there granian's own stop (no drain) is all there is.
DRAIN_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# NOTE: a keep-alive client in a loop needs one answer to learn it must reconnect; a
# second is plenty. Never more than a quarter of the whole timeout.
DRAIN_SECONDS = 1.0
# A worker cut at the deadline gets this long to close its store before it exits anyway
# (its event loop may be blocked); granian kills it a little later still.
CUT_GRACE_SECONDS = 1.0
KILL_MARGIN_SECONDS = 2.0
# Idle pool threads end within moments of the engine closing; a thread still running
# after this runs user code that does not return.
THREAD_EXIT_SECONDS = 0.5
CONNECTION_CLOSE = ("connection", "close")


def drain_seconds(timeout: float) -> float:
    """How long a stopping server keeps accepting, its answers closing their connections."""
    return min(DRAIN_SECONDS, timeout / 4)


def kill_timeout(timeout: float) -> int:
    """granian's ``workers_kill_timeout`` (whole seconds): counted from the end of the drain."""
    return math.ceil(timeout - drain_seconds(timeout) + KILL_MARGIN_SECONDS)


class GracefulStop:
    """The main process's half: on SIGTERM or SIGINT, drain the workers, then stop them.

    It wraps the signal handlers granian installs; installed through granian's start-up
    hook, which runs after granian's handlers are set and before any worker starts.
    """

    def __init__(self, server: Any, timeout: float, quiet: bool = False) -> None:
        self.server = server
        self.quiet = quiet  # no line when it stops (a watch session's server, replaced per build)
        self.timeout = timeout
        self.drain = drain_seconds(timeout)
        self.stopping = False
        if DRAIN_SIGNAL is not None:
            server.on_startup(self._install)

    def _install(self) -> None:
        assert DRAIN_SIGNAL is not None
        # Workers inherit this until they handle it: one told to drain while still
        # starting is not killed by the signal's default action.
        signal.signal(DRAIN_SIGNAL, signal.SIG_IGN)
        for number in STOP_SIGNALS:
            granian_handler = signal.getsignal(number)
            if callable(granian_handler):
                signal.signal(number, functools.partial(self._on_signal, granian_handler))

    def _on_signal(self, granian_handler: Callable[..., Any], number: int, frame: Any) -> None:
        if self.stopping:  # a second signal: stop now
            granian_handler(number, frame)
            return
        self.stopping = True
        drain_signal = DRAIN_SIGNAL
        assert drain_signal is not None  # installed only where it exists
        # NOTE: granian's worker list is not public API (read from 2.8): without it, its
        # own stop (no drain) is all there is.
        workers = list(getattr(self.server, "wrks", None) or [])
        if not workers:
            granian_handler(number, frame)
            return
        ends = []
        for worker in workers:
            # NOTE: granian reads this when a worker exits: expected, so not respawned.
            worker.interrupt_by_parent = True
            process: Any = getattr(worker, "inner", None)
            if getattr(process, "pid", None) is None:
                continue  # a worker thread (free-threaded builds): nothing to drain
            ends.append(process.sentinel)
            try:
                os.kill(process.pid, drain_signal)
            except ProcessLookupError:
                pass
        if not self.quiet:
            print(f"perseus: stopping: answering the requests in flight, for up to {self.timeout:g}s"
                  " (PERSEUS_SHUTDOWN_TIMEOUT)", flush=True)
        threading.Thread(target=self._stop_after_drain, args=(granian_handler, number, ends),
                         name="perseus-drain", daemon=True).start()

    def _stop_after_drain(self, granian_handler: Callable[..., Any], number: int, ends: list[int]) -> None:
        deadline = time.monotonic() + self.drain
        while ends and (left := deadline - time.monotonic()) > 0:
            for ended in wait_for_ends(ends, left):  # workers that stopped on their own
                ends.remove(ended)  # type: ignore[arg-type]
        granian_handler(number, None)


class WorkerStop:
    """A worker's half: told the shutdown began, it drains, and it is gone by the deadline.

    ``close`` releases the engine (its store); it must be safe to call twice.
    """

    def __init__(self, timeout: float, close: Callable[[], None]) -> None:
        self.timeout = timeout
        self.close = close
        self.draining = False
        self.deadline: float | None = None
        self.running = 0  # requests awaiting user code (the only ones a cut can catch)
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen for ``DRAIN_SIGNAL`` on ``loop``; a loop that cannot (not in the main
        thread, another server's) is simply never drained."""
        if DRAIN_SIGNAL is None:
            return
        try:
            loop.add_signal_handler(DRAIN_SIGNAL, self._begin)
        except (NotImplementedError, RuntimeError, ValueError):
            return
        self._loop = loop

    @staticmethod
    def closing(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``headers`` of an answer given while draining: with ``connection: close``."""
        return [*headers, CONNECTION_CLOSE]

    def _begin(self) -> None:
        if self.draining:
            return
        self.draining = True
        self.deadline = time.monotonic() + self.timeout
        threading.Thread(target=self._watchdog, name="perseus-shutdown", daemon=True).start()

    def _watchdog(self) -> None:
        time.sleep(self.timeout)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cut)
        time.sleep(CUT_GRACE_SECONDS)
        log.warning("shutdown: the event loop is blocked (user code?): exiting without closing the store")
        _exit_now()

    def _cut(self) -> None:
        log.warning("shutdown: PERSEUS_SHUTDOWN_TIMEOUT (%gs) is over with %d request(s) still"
                    " running user code: cutting every open connection", self.timeout, self.running)
        self.close()
        _exit_now()

    def _left(self) -> float:
        return self.timeout if self.deadline is None else self.deadline - time.monotonic()

    async def wait_for_background(self, others: Set[asyncio.Task[None]] = frozenset()) -> None:
        """Once every connection is done (granian's loop has stopped): let the loop's other
        tasks, regenerations committing to the store, finish until the deadline.

        ``others`` run until they are told to stop (mounted apps' lifespans): not waited for.
        """
        current = asyncio.current_task()
        pending = {task for task in asyncio.all_tasks()
                   if task is not current and not task.done() and task not in others}
        if pending and (left := self._left()) > 0:
            _, pending = await asyncio.wait(pending, timeout=left)
        if pending:
            log.warning("shutdown: %d background task(s) still running after PERSEUS_SHUTDOWN_TIMEOUT"
                        " (%gs): abandoned", len(pending), self.timeout)

    def finish(self) -> None:
        """Close the engine; exit at once if user code still holds a thread."""
        self.close()
        # NOTE: the interpreter's exit would join every thread, and a hung sync call in
        # user code never returns: leave instead, nothing else is left to do.
        stuck = _threads_still_running(THREAD_EXIT_SECONDS)
        if stuck:
            log.warning("shutdown: user code still running in %d thread(s): not waited for", stuck)
            _exit_now()


def _threads_still_running(within: float) -> int:
    """How many threads the interpreter's exit would wait for, given ``within`` seconds to end."""
    end = time.monotonic() + within
    others = [t for t in threading.enumerate() if not t.daemon and t is not threading.current_thread()]
    for thread in others:
        thread.join(max(0.0, end - time.monotonic()))
    return sum(thread.is_alive() for thread in others)


def _exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)
