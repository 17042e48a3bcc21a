"""Rendering a build's pages: one job per (template, path, locale), in one process or a worker.

``render_job`` runs a page's build state and renders it; ``render_in_order`` keeps up to
``WINDOW`` jobs in flight and yields their outcomes in job order, so the build writes each
page as it comes and holds none of them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from perseus_core.plan import renders_per_request

from .._state import encode_state
from ..app import PerseusApp
from ..context import StateInfo
from ..errors import BuildTimeout, PageFailure, Redirect
from ..http.location import location_for
from ..i18n.translators import Translator
from ..settings import Settings
from ..stores.immutable import PageCopies, WrittenPage
from ..tags import NO_TAGS, split_state
from ..template import Template
from ..turbine.calls import call_user
from ..turbine.generate import BuiltPage
from ..turbine.render import PageRenderer
from ..turbine.strategies import page_flags
from .links import LinkUse

# Bounds on concurrent state functions: async ones on the loop, sync ones in threads.
MAX_CONCURRENT_STATES = 64
SYNC_THREADS = 8
# PERF: pages in flight at once; finished ones wait (in order) only behind these, so the
# build's memory is bounded by this many pages, not by the site's.
WINDOW = 4 * MAX_CONCURRENT_STATES


class UserCalls:
    """Build-time user functions: sync ones in ``pool``, each bounded by ``Settings.build_timeout``."""

    def __init__(self, pool: ThreadPoolExecutor, seconds: float) -> None:
        self.pool = pool
        self.seconds = seconds

    async def run(self, stage: str, function: Callable[..., Any], *args: Any) -> Any:
        """``call_user`` with the build timeout: an async function is cancelled, a sync one is
        abandoned in its thread (it cannot be stopped) and the caller exits without it."""
        try:
            return await asyncio.wait_for(call_user(function, *args, pool=self.pool), self.seconds)
        except TimeoutError:
            raise BuildTimeout(f"{stage} did not finish within {self.seconds:g} s") from None


@dataclass(frozen=True)
class Redirected:
    """A page whose build state raised ``Redirect``: built as that redirect, never rendered."""

    status: int
    location: str


@dataclass(frozen=True, slots=True)  # PERF: one per page, all held for the build (1,000,000 of them)
class PageJob:
    template: Template
    path: str
    locale: str
    extra: Any


@dataclass(frozen=True, slots=True)
class Written:
    """A page a build worker rendered and wrote to its part file: where (``base`` is the
    part's offset in ``pages.bin``, once appended there) and its tags. Only for a page that
    revalidates does its ``built`` page come back too, with its ``copies``, to seed the store."""

    page: WrittenPage
    tags: tuple[str, ...]
    built: BuiltPage | None = None
    copies: PageCopies | None = None
    base: int = 0
    state: bytes | None = None  # its encoded state, when a plugin reads it after the build


# What rendering a job gave: the page, a redirect, or None when it failed (see the failures).
Outcome = BuiltPage | Written | Redirected | None


async def render_job(
    job: PageJob, renderer: PageRenderer, limit: asyncio.Semaphore,
    calls: UserCalls, failures: list[PageFailure], base_path: str,
) -> Outcome:
    template = job.template
    stage = "build_state"
    try:
        state, tags = None, NO_TAGS
        if template.build_state is not None:
            async with limit:
                try:
                    state, tags = split_state(await calls.run(
                        "build_state", template.build_state, StateInfo(job.path, job.locale, job.extra),
                    ))
                except Redirect as redirect:  # built as a redirect page, until the next build
                    return Redirected(redirect.status,
                                      location_for(redirect.location, redirect.external, base_path))
        stage = "render"
        if renders_per_request(page_flags(renderer.app, template)):
            return BuiltPage(encode_state(state), None, tags)
        page = renderer.render(template, job.path, job.locale, state)
        return BuiltPage(encode_state(state), page, tags)
    except Exception as exc:
        # A NotFound from a build path's state is a contradiction worth reporting too.
        failures.append(PageFailure(template.name, job.path, job.locale, stage, exc))
    return None


async def render_in_order(
    jobs: Iterable[PageJob], renderer: PageRenderer, calls: UserCalls, failures: list[PageFailure],
    base_path: str,
) -> AsyncIterator[Outcome]:
    """The outcome of every job, in job order, with up to ``WINDOW`` of them rendering."""
    limit = asyncio.Semaphore(MAX_CONCURRENT_STATES)
    window: deque[asyncio.Task[Outcome]] = deque()
    try:
        for job in jobs:
            window.append(asyncio.ensure_future(render_job(job, renderer, limit, calls, failures, base_path)))
            if len(window) >= WINDOW:
                yield await window.popleft()
        while window:
            yield await window.popleft()
    finally:
        for task in window:
            task.cancel()


def page_renderer(app: PerseusApp, global_state: Any, settings: Settings, build_id: str,
                  translators: Mapping[str, Translator], static_files: Mapping[str, str],
                  link_log: list[LinkUse]) -> PageRenderer:
    """The renderer of a build's pages, alike in the building process and in its workers."""
    return PageRenderer(app, global_state, settings.base_path, translators, build_id=build_id,
                        reload_build_id=build_id if settings.dev_reload else None,
                        static_files=static_files, link_log=link_log)
