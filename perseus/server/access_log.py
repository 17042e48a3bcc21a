"""The access log: one line per request on stdout, written without a ``logging`` call.

PERF: a prerendered page costs ~25 µs of CPU in all; a ``logging`` call (record, formatter,
handler lock, a write per line) costs several µs more. Here a request costs one f-string
and a deque append: the timestamp string is made again at most once per millisecond, the
fixed parts of each line once per worker, and a thread of the worker writes the lines
out every ``FLUSH_SECONDS``, in writes of whole lines, of at most ``PIPE_BUF`` bytes to a
pipe (so lines of workers sharing one pipe never interleave).

NOTE: the event loop never waits on stdout. When stdout is slower than the requests (a
blocked pipe, a stalled log collector), lines wait, up to ``MAX_WAITING_LINES``; beyond
that they are dropped and counted, and a line saying how many follows once stdout takes
lines again. At stop the lines still waiting get ``STOP_SECONDS`` to be written.

Health and readiness probes (``QUIET_PATHS``) are not logged: a load balancer asks every
few seconds.
"""

from __future__ import annotations

import collections
import os
import stat
import sys
import threading
import time
from urllib.parse import quote

import orjson

from ..http.response import Response
from ..http.urls import HEALTH_PATH, READY_PATH
from .log_format import JSON, utc_second, utc_time

FLUSH_SECONDS = 0.1
MAX_WAITING_LINES = 20_000
STOP_SECONDS = 1.0
PIPE_BUF = 4096
CHUNK_TO_FILE = 1 << 16
LOGGER = "perseus.access"
QUIET_PATHS = frozenset({HEALTH_PATH, READY_PATH})


def shown_path(path: str) -> str:
    """``path`` safe on one text line: percent-encoded where it is not printable or has a space."""
    if path.isprintable() and " " not in path:
        return path
    return quote(path, safe="/!$&'()*+,;=:@~.-_%")


class AccessLog:
    """Writes one line per answered request, in ``log_format`` (``text`` or ``json``), to ``fd``."""

    def __init__(self, log_format: str, fd: int | None = None) -> None:
        self.fd = sys.stdout.fileno() if fd is None else fd
        # A write to a pipe is whole only up to PIPE_BUF; one to a file, whatever its size.
        self.chunk = CHUNK_TO_FILE if stat.S_ISREG(os.fstat(self.fd).st_mode) else PIPE_BUF
        self.json = log_format == JSON
        self.worker = os.getpid()
        self.dropped = 0
        self._lines: collections.deque[str] = collections.deque()
        self._millisecond = self._second = -1
        self._wall_offset = time.time_ns() - time.perf_counter_ns()
        self._second_text = ""
        self._time = ""
        self._waiting = False
        self._wake = threading.Event()
        self._stopping = False
        # PERF: the fixed parts of a line, made once.
        self._json_tail = f',"worker":{self.worker}}}\n'
        self._text_head = f" INFO {LOGGER} {self.worker} "
        self._writer = threading.Thread(target=self._write_out, name="perseus-access-log", daemon=True)
        self._writer.start()

    def write(self, method: str, path: str, response: Response, started: int) -> None:
        """Log one answer; ``started`` is the ``time.perf_counter_ns()`` when the request came.

        NOTE: ``method`` is written as it is: granian (hyper) only accepts HTTP tokens,
        which hold no space, quote, backslash or control character.
        """
        if path in QUIET_PATHS:
            return
        # PERF: whole numbers only (formatting a float costs more than the rest of the line),
        # and one clock: the wall clock is the monotonic one plus an offset, set each second.
        now = time.perf_counter_ns()
        duration = (now - started) // 1000
        millisecond = (now + self._wall_offset) // 1_000_000
        if millisecond != self._millisecond:  # PERF: made again once per millisecond at most
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:  # and its strftime once per second
                self._wall_offset = time.time_ns() - time.perf_counter_ns()
                millisecond = (now + self._wall_offset) // 1_000_000
                second, fraction = divmod(millisecond, 1000)
                self._second, self._second_text = second, utc_second(second)
            self._millisecond = millisecond
            self._time = f"{self._second_text}.{fraction:03d}Z"
        if response.file is None:
            size = len(response.body)
        else:
            try:
                size = os.stat(response.file).st_size
            except OSError:
                size = 0
        if self.json:
            line = (f'{{"time":"{self._time}","level":"info","logger":"perseus.access","method":"{method}",'
                    f'"path":{orjson.dumps(path).decode()},"status":{response.status},"bytes":{size},'
                    f'"duration_us":{duration},"cache":"{response.cache}"{self._json_tail}')
        else:
            line = (f"{self._time}{self._text_head}{method} {shown_path(path)}"
                    f" {response.status} {size} {duration}us {response.cache or '-'}\n")
        lines = self._lines
        if len(lines) >= MAX_WAITING_LINES:
            self.dropped += 1
            return
        lines.append(line)
        if not self._waiting:
            self._waiting = True
            self._wake.set()

    def close(self) -> None:
        """Write what is waiting (within ``STOP_SECONDS``) and stop the writer thread."""
        self._stopping = True
        self._wake.set()
        self._writer.join(STOP_SECONDS)

    def _write_out(self) -> None:
        while not self._stopping:
            self._wake.wait()
            if not self._stopping:
                time.sleep(FLUSH_SECONDS)
            self._wake.clear()
            self._waiting = False  # NOTE: before draining: a line added from now on wakes us again
            self._drain()

    def _drain(self) -> None:
        lines = self._lines
        chunk: list[str] = []
        size = 0
        while lines:
            line = lines.popleft()
            length = len(line) if line.isascii() else len(line.encode())  # PERF: isascii is O(1)
            if size + length > self.chunk and chunk:
                self._send("".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += length
        if chunk:
            self._send("".join(chunk))
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            self._send(self._dropped_line(dropped))

    def _dropped_line(self, count: int) -> str:
        message = f"{count} access log line(s) dropped: stdout did not take them fast enough"
        if self.json:
            return (f'{{"time":"{utc_time(time.time())}","level":"warning","logger":"{LOGGER}",'
                    f'"message":"{message}"{self._json_tail}')
        return f"{utc_time(time.time())} WARNING {LOGGER} {self.worker} {message}\n"

    def _send(self, text: str) -> None:
        data = text.encode("utf-8", "backslashreplace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass  # stdout closed: nothing to log to
