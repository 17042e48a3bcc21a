"""What the adapters call once per answered request: the access log, metrics, both, or
nothing (then the adapter skips even reading the clock)."""

from __future__ import annotations

from collections.abc import Callable

from ..http.response import Response
from ..turbine.metrics import Metrics
from .access_log import AccessLog

# (method, path, response, time.perf_counter_ns() when the request came)
Observe = Callable[[str, str, Response, int], None]


class Observers:
    """What watches one worker's answers; started when the worker opens its engine (after
    the fork: the access log's writer is a thread of the worker)."""

    def __init__(self, access_log: Callable[[], AccessLog] | None) -> None:
        self._access_log = access_log
        self.access_log: AccessLog | None = None

    def start(self, metrics: Metrics | None) -> Observe | None:
        if self._access_log is not None and self.access_log is None:
            self.access_log = self._access_log()
        return observer(self.access_log, metrics)

    def close(self) -> None:
        """Write out the access log's last lines."""
        if self.access_log is not None:
            self.access_log.close()


def observer(access_log: AccessLog | None, metrics: Metrics | None) -> Observe | None:
    """One callable for what watches the answers, or None when nothing does."""
    if metrics is None:
        return None if access_log is None else access_log.write
    if access_log is None:
        return metrics.record
    write, record = access_log.write, metrics.record

    def both(method: str, path: str, response: Response, started: int) -> None:
        write(method, path, response, started)
        record(method, path, response, started)

    return both
