"""Prometheus metrics (``PERSEUS_METRICS=1``), served at ``/.perseus/metrics`` and summed
over every worker of the server.

prometheus_client's multiprocess mode does the summing: each worker writes its counters
and histograms to memory-mapped files in one directory per server (``perseus serve``
makes it and hands it to the workers through ``perseus.settings``), and the worker that
answers a scrape reads them all. The files of a worker that died stay (its counts are
kept); its live gauge is dropped at the next scrape (``mark_process_dead``), so a
respawned worker counts once.

NOTE: prometheus_client chooses its multiprocess mode when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``: it is imported here only, and only with metrics on.
Without that directory (an engine opened in-process, ``perseus.testing``) the metrics
are this process's.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from perseus_core.plan import GENERATED, PRERENDERED, RENDERED_PER_REQUEST, REVALIDATING
from perseus_core.routing import INCREMENTAL, PAGE, BadPath

from ..errors import ConfigurationError, NotFound
from ..http.response import BYPASS, STALE, Response
from ..http.response import GENERATED as GENERATED_ANSWER
from ..settings import Settings
from .pages import Page, PageTable

INSTALL = "pip install 'perseus-web[metrics]'"
STRATEGY_NAMES = {PRERENDERED: "built", RENDERED_PER_REQUEST: "request_state", REVALIDATING: "revalidation",
                  GENERATED: "incremental"}
# Where the URL does not name its page directly (an incremental page, a HEAD), the answer's
# cache status tells the strategy; other answers (errors, files, perseus's URLs) have none.
STRATEGY_BY_CACHE = {GENERATED_ANSWER: "incremental", BYPASS: "request_state", STALE: "revalidation"}
NO_STRATEGY = "none"
# Seconds: a prerendered page takes ~50 µs, user code up to the request timeout.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GENERATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")
StrategyOf = Callable[[str], str | None]


def strategy_lookup(built: Mapping[str, object], pages: Mapping[str, tuple[object, Page, object]],
                    table: PageTable) -> StrategyOf:
    """``strategy_of`` over the engine's tables of URLs that name a page directly, else
    routed as the engine routes (an incremental page, a URL not in canonical form)."""

    def strategy_of(path: str) -> str | None:
        if path in built:
            return STRATEGY_NAMES[PRERENDERED]
        known = pages.get(path)
        if known is not None:
            return STRATEGY_NAMES[known[1].kind]
        try:
            verdict, ident, locale_index = table.router.resolve(path)
        except BadPath:
            return None
        if verdict == INCREMENTAL:
            return STRATEGY_NAMES[GENERATED]
        page = table.page(max(locale_index, 0), ident) if verdict == PAGE else None
        return None if page is None else STRATEGY_NAMES[page.kind]

    return strategy_of


def open_metrics(settings: Settings, strategy_of: StrategyOf,
                 stored_pages: Callable[[], Awaitable[int | None]]) -> Metrics | None:
    """This worker's metrics, or None without ``PERSEUS_METRICS``."""
    return Metrics(settings.metrics_dir, strategy_of, stored_pages) if settings.metrics else None


def prometheus() -> Any:
    """The prometheus_client module, or a ConfigurationError saying how to install it."""
    try:
        import prometheus_client
        import prometheus_client.multiprocess  # noqa: F401
    except ImportError:
        raise ConfigurationError(f"PERSEUS_METRICS=1 needs prometheus_client: {INSTALL}") from None
    return prometheus_client


class Metrics:
    """This worker's metrics. ``strategy_of(path)`` names the strategy of the page a URL
    names directly, or None; ``stored_pages()`` counts the mutable store's pages (or None)."""

    def __init__(self, directory: Path | None, strategy_of: StrategyOf,
                 stored_pages: Callable[[], Awaitable[int | None]]) -> None:
        client = self.client = prometheus()
        self.directory = directory
        self.strategy_of = strategy_of
        self.stored_pages = stored_pages
        self.registry = registry = client.CollectorRegistry()
        self.requests = client.Counter("perseus_requests", "Answered requests",
                                       ["strategy", "status", "cache"], registry=registry)
        self.latency = client.Histogram("perseus_request_duration_seconds", "Time to answer a request",
                                        ["strategy"], buckets=LATENCY_BUCKETS, registry=registry)
        self.generations = client.Counter("perseus_generations", "Pages generated at run time, by"
                                          " kind (generation, regeneration) and outcome (ok, not_found,"
                                          " failed)", ["kind", "outcome"], registry=registry)
        self.generation_time = client.Histogram("perseus_generation_duration_seconds",
                                                "Time to generate a page at run time", ["kind"],
                                                buckets=GENERATION_BUCKETS, registry=registry)
        self.overloaded = client.Counter("perseus_overloaded", "Requests refused with 503: every thread"
                                         " for user code busy", registry=registry)
        self.timeouts = client.Counter("perseus_request_timeouts", "Requests answered 504: user code"
                                       " past PERSEUS_REQUEST_TIMEOUT", registry=registry)
        self.store_errors = client.Counter("perseus_store_errors", "Mutable store calls that failed",
                                           registry=registry)
        self.workers = client.Gauge("perseus_workers", "Worker processes serving", registry=registry,
                                    multiprocess_mode="livesum")
        self.workers.set(1)
        # PERF: the children of each label set, found once (``labels()`` costs ~1 µs).
        self._children: dict[tuple[str, int, str], tuple[Any, Any]] = {}

    def record(self, method: str, path: str, response: Response, started: int) -> None:
        """Count one answer; ``started`` is the ``time.perf_counter_ns()`` when the request came."""
        seconds = (time.perf_counter_ns() - started) / 1e9
        strategy = self.strategy_of(path) or STRATEGY_BY_CACHE.get(response.cache, NO_STRATEGY)
        key = (strategy, response.status, response.cache)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(strategy, str(response.status), response.cache or NO_STRATEGY),
                self.latency.labels(strategy))
        children[0].inc()
        children[1].observe(seconds)

    def failed(self, status: int) -> None:
        """Note an answer of user code (or the store) failing with ``status``."""
        if status == 503:
            self.overloaded.inc()
        elif status == 504:
            self.timeouts.inc()

    def store_error(self) -> None:
        self.store_errors.inc()

    async def generation(self, kind: str, work: Awaitable[Any]) -> Any:
        """Await ``work`` (a generation of ``kind``), counting it and timing it."""
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await work
            outcome = "ok"
            return result
        except NotFound:
            outcome = "not_found"
            raise
        finally:
            self.generations.labels(kind, outcome).inc()
            self.generation_time.labels(kind).observe(time.perf_counter() - started)

    async def answer(self, method: str) -> Response:
        """``/.perseus/metrics``: every worker's metrics in the Prometheus text format."""
        pages = await self.stored_pages()
        # NOTE: on the loop: a few small memory-mapped files per worker, read once per scrape
        # (a thread of the default executor would hold a stopping worker).
        text = self._exposition(pages)
        headers = [("content-type", self.client.CONTENT_TYPE_LATEST), ("cache-control", "no-store")]
        return Response(200, headers, text if method == "GET" else b"")

    def _exposition(self, stored_pages: int | None) -> bytes:
        client = self.client
        if self.directory is None:
            registry = self.registry
        else:
            self._forget_dead_workers()
            registry = client.CollectorRegistry()
            client.multiprocess.MultiProcessCollector(registry, path=str(self.directory))
        text: bytes = client.generate_latest(registry)
        if stored_pages is not None:
            text += (b"# HELP perseus_stored_pages Pages in the mutable store\n"
                     b"# TYPE perseus_stored_pages gauge\n"
                     + f"perseus_stored_pages {stored_pages}\n".encode())
        return text

    def _forget_dead_workers(self) -> None:
        for pid in _gauge_pids(str(self.directory)):
            if not _alive(pid):
                self.client.multiprocess.mark_process_dead(pid, str(self.directory))


def _gauge_pids(directory: str) -> Iterator[int]:
    for name in glob.glob(os.path.join(directory, "gauge_live*.db")):
        match = LIVE_GAUGE_FILE.search(name)
        if match:
            yield int(match.group(1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def empty_directory(directory: Path) -> None:
    """Make ``directory`` (a server's metrics) exist and hold no file of an earlier server."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in glob.glob(os.path.join(directory, "*.db")):
        os.remove(name)
