"""``perseus build`` on every core: a pool of processes, each importing the app, rendering
chunks of pages.

The parent collects the paths, runs the global state and writes ``dist/``; each worker
(spawned, not forked: the parent may run threads) imports the app by its spec, gets the
global state, the build id and the static manifest from the parent rather than computing
them again, runs the build state of its pages, renders and compresses them and writes their
bodies to a part file of its chunk. Only where they lie comes back, chunk by chunk in job
order; the parent appends each part to ``pages.bin`` in that order (a copy in the kernel),
so the dist is byte for byte that of one process.
A build without an importable spec (an app object made in a test) renders in-process.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import BuildError, PageFailure
from ..i18n.locales import NO_LOCALE
from ..loader import load_app
from ..settings import Settings
from ..stores.immutable import BodyFile, page_copies
from ..template import Template
from ..tracebacks import user_frames
from ..turbine.generate import BuiltPage
from ..turbine.render import PageRenderer, load_translators
from .links import LinkUse
from .render_jobs import SYNC_THREADS, Outcome, PageJob, UserCalls, Written, page_renderer, render_in_order

log = logging.getLogger("perseus.build")
# PERF: a worker costs an interpreter and an import of the app (~0.5 s): with
# PERSEUS_BUILD_WORKERS unset, a site is rendered on every core only from this many pages
# (measured on 2 cores: 2,000 small pages build in 0.4 s in one process; 20,000 Jinja2
# pages of 11 KB, pure build, at load 3-5: 41.7 s in one, 23.3 s on two). A number given is
# obeyed, with each worker getting at least MIN_PAGES_PER_WORKER pages.
AUTO_PARALLEL_PAGES = 5_000
MIN_PAGES_PER_WORKER = 50
MAX_CHUNK = 256
# A page as a worker gets it: (index of its template in app.templates, path, locale).
JobRef = tuple[int, str, str]
# A chunk as a worker gets it: its number (naming its part file) and its pages.
Chunk = tuple[int, list[JobRef]]


@dataclass(frozen=True)
class AppSource:
    """Where a worker imports the app from: ``load_app(spec, project)``."""

    spec: str
    project: Path


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker gets once: the parent's results it must not compute again."""

    source: AppSource
    settings: Settings
    build_id: str
    global_state: Any
    static_files: dict[str, str]
    template_names: list[str]
    extras: list[Any]  # what build_paths returned, per template
    parts: Path  # where workers write their part files (DistWriter.parts_dir)
    parent: int = field(default_factory=os.getpid)  # the building process


@dataclass
class ChunkResult:
    """A chunk's outcomes in job order (its pages ``Written`` to ``part``), its failures
    and the ``ctx.link`` uses of its pages."""

    outcomes: list[Outcome]
    part: Path
    failures: list[PageFailure]
    links: list[LinkUse]


def available_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pool_size(settings: Settings, source: AppSource | None, pages: int) -> int:
    """How many worker processes render ``pages`` pages; 1 renders them in-process."""
    wanted = settings.build_workers
    if wanted is None:
        wanted = available_cores() if pages >= AUTO_PARALLEL_PAGES else 1
    if wanted > 1 and source is None:
        log.debug("rendering in one process: the app was given as an object, not a spec to import")
        return 1
    return max(1, min(wanted, pages // MIN_PAGES_PER_WORKER))


def portable_setup(setup: WorkerSetup) -> bool:
    """Whether ``setup`` can be sent to workers (a global state or build_paths extra that does
    not pickle cannot)."""
    try:
        pickle.dumps(setup)
    except Exception as exc:
        log.debug("rendering in one process: the global state or a build_paths extra cannot be"
                  " sent to worker processes (%s)", exc)
        return False
    return True


def chunked(refs: list[JobRef], workers: int) -> Generator[Chunk, None, None]:
    size = max(1, min(MAX_CHUNK, math.ceil(len(refs) / (workers * 8))))
    for number, start in enumerate(range(0, len(refs), size)):
        yield number, refs[start : start + size]


def render_in_pool(setup: WorkerSetup, chunks: Iterable[Chunk],
                   workers: int) -> Generator[ChunkResult, None, None]:
    """Each chunk's result, in order, with at most two chunks per worker in flight (so the
    parent holds a bounded number of pages). Close it to stop the workers.

    Raises:
        BuildError: a worker died (killed, out of memory) before it finished its chunk.
    """
    before = set(multiprocessing.active_children())
    # NOTE: concurrent.futures rather than multiprocessing.Pool: a Pool whose worker is
    # killed waits for its lost chunk forever; this one raises BrokenProcessPool.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start, initargs=(setup,))
    try:
        pending: deque[Future[ChunkResult]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_render_chunk, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as exc:
        failure = PageFailure("(build worker)", None, NO_LOCALE, "render",
                              RuntimeError("a build worker process died before it finished (killed, or out"
                                           " of memory?): try PERSEUS_BUILD_WORKERS=1 to see the page"))
        raise BuildError([failure]) from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        # NOTE: killed, not asked to stop: a sync state function past its timeout still runs
        # in a worker's thread, which nothing else can stop (and exit would wait for).
        for worker in set(multiprocessing.active_children()) - before:
            worker.kill()
            worker.join()


class _Worker:
    def __init__(self, setup: WorkerSetup) -> None:
        app = load_app(setup.source.spec, setup.source.project)
        names = [template.name for template in app.templates]
        if names != setup.template_names:
            raise RuntimeError(f"the app imported in a build worker has the templates {names},"
                               f" the building process {setup.template_names}: is its import repeatable?")
        self.app = app
        self.setup = setup
        self.links: list[LinkUse] = []
        self.renderer: PageRenderer = page_renderer(app, setup.global_state, setup.settings, setup.build_id,
                                                    load_translators(app), setup.static_files, self.links)
        self.calls = UserCalls(ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="perseus-build"),
                               setup.settings.build_timeout)
        # PERF: one loop for every chunk, not asyncio.run per chunk: on Python 3.11 each run
        # formats the repr of its finished task (signal.getsignal on its SIGINT handler),
        # result included: every page body of the chunk, ~0.4 ms a page, a fifth of a render.
        self.loop = asyncio.new_event_loop()

    async def render(self, chunk: Chunk) -> ChunkResult:
        number, refs = chunk
        jobs = [PageJob(self.app.templates[index], path, locale, self.setup.extras[index])
                for index, path, locale in refs]
        failures: list[PageFailure] = []
        part = self.setup.parts / f"{number}.bin"
        bodies = BodyFile(part)
        try:
            wanted = self.renderer.app.plugin_states
            outcomes = [_written(job, outcome, bodies, wanted) for job, outcome in zip(jobs, [
                outcome async for outcome in render_in_order(
                    jobs, self.renderer, self.calls, failures, self.setup.settings.base_path)
            ], strict=True)]
        finally:
            bodies.close()
        links = self.links[:]
        self.links.clear()
        return ChunkResult(outcomes, part, [_portable(failure) for failure in failures], links)


def _written(job: PageJob, outcome: Outcome, bodies: BodyFile, wanted_states: frozenset[str]) -> Outcome:
    """``outcome``, its bodies written to ``bodies`` when it is a rendered page (its state
    kept for a template whose states a plugin reads after the build)."""
    if not isinstance(outcome, BuiltPage) or outcome.page is None:
        return outcome
    copies = page_copies(outcome.page)
    written = bodies.add_page(outcome.page, copies)
    state = outcome.state if job.template.name in wanted_states else None
    if job.template.revalidates:  # NOTE: its bodies seed the store too, in the parent
        return Written(written, outcome.tags, outcome, copies, state=state)
    return Written(written, outcome.tags, state=state)


_worker: _Worker | None = None
_start_error: BaseException | None = None


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the building process dies (Linux). NOTE: killed
    (SIGTERM, SIGKILL) it runs no clean-up, and its workers would wait on their queue forever."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before that
        os._exit(1)


def _start(setup: WorkerSetup) -> None:
    global _worker, _start_error
    _die_with_parent(setup.parent)
    try:
        _worker = _Worker(setup)
    except BaseException as exc:  # NOTE: raised here, the pool would start workers forever
        _start_error = exc


def _render_chunk(chunk: Chunk) -> ChunkResult:
    if _worker is None:
        assert _start_error is not None
        raise _start_error
    return _worker.loop.run_until_complete(_worker.render(chunk))


class CarriedError(Exception):
    """An exception of a build worker that cannot cross to the parent: its type's name, its
    message and the user's frames of its traceback, which is what the build reports."""

    perseus_frames: list[Any]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_carried, (type(self).__name__, str(self), self.perseus_frames))


def _carried(name: str, message: str, frames: list[Any]) -> CarriedError:
    error: CarriedError = type(name, (CarriedError,), {})(message)
    error.perseus_frames = frames
    return error


def _portable(failure: PageFailure) -> PageFailure:
    """``failure`` with an error that pickles, carrying the user's frames (a traceback does not)."""
    error = failure.error
    frames = user_frames(error)
    try:
        error.perseus_frames = frames  # type: ignore[attr-defined]
        pickle.loads(pickle.dumps(error))
    except Exception:
        error = _carried(type(error).__name__, str(error), frames)
    return PageFailure(failure.template, failure.path, failure.locale, failure.stage, error)


async def outcomes_in_pool(
    setup: WorkerSetup, jobs: list[PageJob], templates: list[Template], workers: int,
    failures: list[PageFailure], links: list[LinkUse], add_part: Callable[[Path], int],
) -> AsyncIterator[Outcome]:
    """Every job's outcome, in job order, rendered by ``workers`` processes; their failures
    and ``ctx.link`` uses are added to ``failures`` and ``links``. Each chunk's part file
    goes to ``add_part`` (``DistWriter.add_part``) before its outcomes, which are ``Written``
    at the offset it returned."""
    position = {id(template): index for index, template in enumerate(templates)}
    refs = [(position[id(job.template)], job.path, job.locale) for job in jobs]
    # NOTE: waiting on a chunk blocks this loop: the parent has nothing else to run meanwhile.
    with closing(render_in_pool(setup, chunked(refs, workers), workers)) as results:
        for result in results:
            failures.extend(result.failures)
            links.extend(result.links)
            if failures:  # NOTE: a failed build writes nothing more: its dist is thrown away
                result.part.unlink(missing_ok=True)
                base = 0
            else:
                base = add_part(result.part)
            for outcome in result.outcomes:
                yield replace(outcome, base=base) if isinstance(outcome, Written) else outcome
