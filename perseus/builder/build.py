"""``perseus build``: run every build-time strategy and write the immutable store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from perseus_core.paths import BadPath, normalize_path

from .. import __version__
from .._state import encode_state
from ..app import PerseusApp
from ..errors import BuildError, PageFailure
from ..http.bodies import RenderedPage
from ..http.fingerprints import hashed_names, static_manifest
from ..http.mounts import MountTable
from ..http.response import ERROR_STATUSES
from ..http.static_copies import static_files, write_static_copies
from ..http.urls import RESERVED_SEGMENT, page_url
from ..i18n.locales import NO_LOCALE
from ..plugins.hooks import run_build_hook
from ..plugins.output import BuiltSite, PageLog, page_log
from ..settings import Settings
from ..stores.immutable import (
    BUILT_TAGS,
    GLOBAL_STATE,
    RENDER_CONF,
    STATIC_COPIES_INDEX,
    DistWriter,
    build_lock,
    mutable_location,
    new_build_id,
    page_copies,
)
from ..stores.records import PageVersion
from ..template import BuildPaths, Template, is_reserved
from ..turbine.generate import BuiltPage, seed_mutable_store, version_of
from ..turbine.render import PageRenderer, load_translators
from ..turbine.strategies import page_flags, page_strategy
from .links import BrokenLink, LinkUse, ServedPaths, broken_links
from .render_jobs import (
    SYNC_THREADS,
    Outcome,
    PageJob,
    Redirected,
    UserCalls,
    Written,
    page_renderer,
    render_in_order,
)
from .workers import AppSource, WorkerSetup, outcomes_in_pool, pool_size, portable_setup


@dataclass(frozen=True, slots=True)  # PERF: one per page, all held for the route table
class Route:
    """One built URL, as the route table shows it.

    Attributes:
        url: the URL path, with its locale (without the base path).
        template: the template's name.
        strategy: the template's (``"build paths"``, ``"revalidation"``, ``"request global
            state"``...: ``strategies.page_strategy``), or
            ``"redirect"`` for a page whose build state raised ``Redirect``.
        html_bytes: the size of the prerendered HTML; None for a page rendered per
            request or a redirect.
        compressed_bytes: the size of its brotli copy, None where compressing did not pay.
        redirect: the status and location of a redirect, else None.
    """

    url: str
    template: str
    strategy: str
    html_bytes: int | None = None
    compressed_bytes: int | None = None
    redirect: tuple[int, str] | None = None


@dataclass(frozen=True)
class TemplateInfo:
    """A template as the route table summarises it (also one with no built page)."""

    name: str
    root: str
    strategy: str
    revalidate_after: float | None
    should_revalidate: bool
    incremental: bool


@dataclass
class BuildSummary:
    """What a build produced, for the CLI to print.

    Attributes:
        routes: every built URL, in build order.
        templates: every template of the app, in the app's order.
        broken_links: ``ctx.link`` targets no page serves (warnings; ``--strict`` fails instead).
    """

    build_id: str
    seconds: float
    routes: list[Route] = field(default_factory=list)
    templates: list[TemplateInfo] = field(default_factory=list)
    broken_links: list[BrokenLink] = field(default_factory=list)


def normalize_build_path(path: object) -> str:
    """``"/a/b/"`` -> ``"a/b"``; refuses what no URL could reach."""
    if not isinstance(path, str):
        raise TypeError(f"build paths must be strings, got {path!r}")
    stripped = path.strip("/")
    segments = stripped.split("/") if stripped else []
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"build path {path!r} has an empty, '.' or '..' segment")
        if "\\" in segment:
            raise ValueError(f"build path {path!r} has a backslash")
    try:
        normalize_path(stripped)
    except BadPath:
        # NOTE: the server answers 400 to these, so such a page could never be reached.
        raise ValueError(f"build path {path!r} has a control character, U+FFFD or a '%'"
                         " (the server answers 400 to such a path)") from None
    return stripped


Progress = Callable[[int, int], None]


async def build_site(
    app: PerseusApp, dist: Path, settings: Settings, *, say: Callable[[str], None] = lambda _: None,
    progress: Progress = lambda done, total: None, source: AppSource | None = None,
) -> BuildSummary:
    """Build every page of ``app`` into ``dist``; raise ``BuildError`` listing all failures.

    ``settings`` give the base path, the build timeout, where the mutable store is
    seeded and whether a broken ``ctx.link`` fails the build (``strict``). On failure
    nothing is written: the previous ``dist`` stays as it was. One build of a ``dist``
    runs at a time: another waits (blocking) until it is done. ``say`` gets each step's
    line, ``progress(done, total)`` each rendered page.

    With ``source`` (where ``app`` was imported from) the pages are rendered in
    ``Settings.build_workers`` processes that import the app from there; without it (an
    app object made in-process, as tests do) in this process. The workers are spawned:
    a script calling this with ``source`` needs the ``if __name__ == "__main__":`` guard
    that multiprocessing asks for. Pages are written as they are rendered: the build holds
    none of their bodies.
    """
    with build_lock(dist, say):
        return await _build_locked(app, dist, settings, say, progress, source)


async def _build_locked(
    app: PerseusApp, dist: Path, settings: Settings, say: Callable[[str], None], progress: Progress,
    source: AppSource | None,
) -> BuildSummary:
    base_path = settings.base_path
    started = time.perf_counter()
    build_id = new_build_id()  # known before rendering: watch mode puts it in every page
    locales = app.locales.all if app.locales is not None else [NO_LOCALE]
    translators = load_translators(app)
    failures: list[PageFailure] = []
    pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="perseus-build")
    calls = UserCalls(pool, settings.build_timeout)
    writer = DistWriter(dist, build_id)
    try:
        try:
            await run_build_hook(app.plugins, "before_build", app, calls.run)
            global_state = None
            if app.global_state is not None:
                try:
                    global_state = await calls.run("global_state", app.global_state)
                    encode_state(global_state)
                except Exception as exc:
                    failure = PageFailure("(global state)", None, NO_LOCALE, "global_state", exc)
                    raise BuildError([failure]) from exc
            static = static_manifest(app.static_dir)
            link_log: list[LinkUse] = []
            static_names = hashed_names(static)
            renderer = page_renderer(app, global_state, settings, build_id, translators, static_names,
                                     link_log)
            say(f"collecting paths of {len(app.templates)} template(s)")
            collected = await asyncio.gather(*(_collect_paths(t, calls, failures) for t in app.templates))
            jobs = [
                PageJob(template, path, locale, extra)
                for template, (paths, extra) in zip(app.templates, collected, strict=True)
                for path in paths
                for locale in locales
            ]
            _check_conflicts(jobs, set(app.static_aliases), set(app.redirects), app.mounts, failures)
            workers = pool_size(settings, source, len(jobs))
            setup = None if source is None or workers == 1 else WorkerSetup(
                source, settings, build_id, global_state, static_names,
                [template.name for template in app.templates], [extra for _, extra in collected],
                writer.parts_dir())
            if setup is not None and portable_setup(setup):
                say(f"rendering {len(jobs)} page(s) in {workers} processes")
                stream = outcomes_in_pool(setup, jobs, app.templates, workers, failures, link_log,
                                          writer.add_part)
            else:
                say(f"rendering {len(jobs)} page(s)")
                stream = render_in_order(jobs, renderer, calls, failures, base_path)
            templates = [_template_info(app, template) for template in app.templates]
            output = _Output(writer, BuildSummary(build_id, 0.0, templates=templates),
                             page_log(app.plugins, base_path, app.plugin_states))
            progress(0, len(jobs))
            done = 0
            async for outcome in stream:
                if not failures:  # NOTE: a failed build writes nothing more: its dist is thrown away
                    output.add(jobs[done], outcome)
                done += 1
                progress(done, len(jobs))
            errors = {(status, locale): _render_error(renderer, status, message, locale, failures)
                      for status, message in ERROR_STATUSES.items() for locale in locales}
        finally:
            # NOTE: never wait here: a sync function past its timeout still holds its thread.
            pool.shutdown(wait=False, cancel_futures=True)
        broken = []
        if link_log:  # PERF: the set of every served path, only when a page made a link to check
            pages = ((job.template.full_path(job.path), job.locale) for job in jobs)
            broken = broken_links(link_log, ServedPaths(app, pages, locales), base_path)
        if broken and settings.strict:
            failures.extend(failure for link in broken for failure in link.failures())
        if failures:
            raise BuildError(failures)
        summary = output.summary
        summary.broken_links = broken
        for (status, locale), error_page in errors.items():
            assert error_page is not None
            writer.add_error_page(status, locale, error_page)
        for locale, translator in translators.items():
            writer.add_translations(locale, translator.content_type, translator.source)
        copied = write_static_copies(static_files(app.static_dir, app.static_aliases, app.root),
                                     writer.static_copies_dir(), app.root)
        writer.write_json(STATIC_COPIES_INDEX, copied)
        for template, (_, extra) in zip(app.templates, collected, strict=True):
            writer.write_extra(template.name, encode_state(extra))
        writer.write_json(RENDER_CONF, {**_render_conf(app, jobs, locales, base_path), "static": static})
        if output.tagged:  # for `perseus revalidate --tag`, which names the built pages it cannot mark
            writer.write_json(BUILT_TAGS, output.tagged)
        if app.global_state is not None:
            writer.write_json(GLOBAL_STATE, orjson.loads(encode_state(global_state)))
        if any(template.uses_mutable_store for template in app.templates):
            # The store lives in the new dist/ (swapped in whole by commit) unless
            # PERSEUS_MUTABLE_DIR puts it elsewhere; records carry the build id. NOTE: last
            # before the commit: with Redis, other machines see the seeds at once.
            store_dir = mutable_location(dist, settings.mutable_dir, writer.tmp)
            seed_mutable_store(store_dir, output.seeds, settings)
        if output.page_log is not None:
            await _after_build(app, output.page_log, writer, locales, settings)
        writer.commit({"perseus": __version__, "built_at": time.time(), "pages": len(jobs)})
    except BaseException:
        writer.abort()
        raise
    summary.seconds = time.perf_counter() - started
    return summary


async def _after_build(app: PerseusApp, pages: PageLog, writer: DistWriter, locales: list[str],
                       settings: Settings) -> None:
    """The plugins' ``after_build`` hooks, writing their files into the new dist."""
    base_path = settings.base_path
    taken = {page.url[len(base_path):] or "/" for page in pages.pages} | set(app.static_aliases)
    site = BuiltSite(writer.tmp, writer.build_id, base_path, locales, pages.pages, taken)
    pool = ThreadPoolExecutor(1, thread_name_prefix="perseus-plugins")
    try:
        await run_build_hook(app.plugins, "after_build", site, UserCalls(pool, settings.build_timeout).run)
    finally:
        pool.shutdown(wait=False)  # NOTE: a hook past its timeout still holds its thread
    site.finish()


class _Output:
    """Writes each rendered page into the new dist as it comes, keeping only its route (and
    the store seeds of pages that revalidate, written last)."""

    def __init__(self, writer: DistWriter, summary: BuildSummary, pages: PageLog | None) -> None:
        self.writer = writer
        self.page_log = pages
        self.summary = summary
        self.built_at = time.time()
        self.seeds: list[PageVersion] = []
        self.strategies = {template.name: template.strategy for template in summary.templates}
        self.tagged: dict[str, list[tuple[str, str]]] = {}

    def add(self, job: PageJob, built: Outcome) -> None:
        assert built is not None
        writer = self.writer
        full = job.template.full_path(job.path)
        url = page_url(None if job.locale == NO_LOCALE else job.locale, full)
        if isinstance(built, Redirected):
            writer.add_redirect(full, job.locale, job.template.name, built.status, built.location)
            self.summary.routes.append(Route(url, job.template.name, "redirect",
                                             redirect=(built.status, built.location)))
            return
        for tag in built.tags:
            self.tagged.setdefault(tag, []).append((job.locale, full))
        route = Route(url, job.template.name, self.strategies[job.template.name])
        if self.page_log is not None:
            self.page_log.add(job.template.name, full, job.locale, url, built.state)
        copies = None
        seed: BuiltPage | None = built if isinstance(built, BuiltPage) else None
        if isinstance(built, Written):  # by a build worker, its bodies in pages.bin already
            compressed = writer.add_written_page(full, job.locale, job.template.name, built.page, built.base)
            route = replace(route, html_bytes=built.page.html_bytes, compressed_bytes=compressed)
            seed, copies = built.built, built.copies
        elif built.page is not None:
            copies = page_copies(built.page)  # NOTE: one compression serves the dist and the store's seed
            compressed = writer.add_page(full, job.locale, job.template.name, built.page, copies)
            route = replace(route, html_bytes=len(built.page.html), compressed_bytes=compressed)
        else:  # request (global) state: only the build half is kept, the page is rendered per request
            writer.add_deferred_page(full, job.locale, job.template.name, built.state)
        if job.template.revalidates:
            assert seed is not None  # a worker sends back the pages that revalidate
            self.seeds.append(version_of(job.template, job.path, job.locale, writer.build_id, seed,
                                         self.built_at, copies))
        self.summary.routes.append(route)


def _template_info(app: PerseusApp, template: Template) -> TemplateInfo:
    return TemplateInfo(template.name, template.root, page_strategy(app, template), template.revalidate_after,
                        template.should_revalidate is not None, template.incremental)


async def _collect_paths(
    template: Template, calls: UserCalls, failures: list[PageFailure]
) -> tuple[list[str], Any]:
    if template.build_paths is None:
        return [""], None
    try:
        result = await calls.run("build_paths", template.build_paths)
        if isinstance(result, BuildPaths):
            if isinstance(result.paths, (str, bytes)):
                # NOTE: list("first") would silently build the pages f, i, r, s and t.
                raise TypeError(f"BuildPaths takes a list of paths, got the string {result.paths!r}")
            raw_paths, extra = list(result.paths), result.extra
        elif isinstance(result, (list, tuple)):
            raw_paths, extra = list(result), None
        else:
            raise TypeError(f"build_paths must return BuildPaths or a list, got {type(result).__name__}")
        encode_state(extra)
        paths = list(dict.fromkeys(normalize_build_path(p) for p in raw_paths))
    except Exception as exc:
        failures.append(PageFailure(template.name, None, NO_LOCALE, "build_paths", exc))
        return [], None
    return paths, extra


def _check_conflicts(jobs: list[PageJob], aliases: set[str], redirects: set[str], mounts: MountTable,
                     failures: list[PageFailure]) -> None:
    """Each URL answers one thing: a page, a static alias, a fixed redirect, a mounted app or
    perseus's own routes."""
    owners: dict[tuple[str, str], str] = {}
    for job in jobs:
        key = (job.template.full_path(job.path), job.locale)
        url = page_url(None if job.locale == NO_LOCALE else job.locale, key[0])
        clash = None
        if is_reserved(key[0]):
            clash = f"page '/{key[0]}' is below /{RESERVED_SEGMENT}/, which is reserved for perseus"
        elif "/" + key[0] in aliases and job.locale == NO_LOCALE:
            clash = f"page '/{key[0]}' is also a static alias, which would hide it; rename one of them"
        elif url in redirects:
            clash = (f"page '{url}' is also a source of PerseusApp(redirects=...), which would hide it;"
                     " remove the redirect or the page")
        elif (mount := mounts.find(url)):
            clash = (f"page '/{key[0]}' is below the mount {mount.prefix!r}, which answers it instead;"
                     " move the page or the mount")
        if clash is not None:
            failures.append(PageFailure(job.template.name, job.path, job.locale, "build_paths",
                                        ValueError(clash)))
            continue
        owner = owners.setdefault(key, job.template.name)
        if owner != job.template.name:
            failures.append(PageFailure(
                job.template.name, job.path, job.locale, "build_paths",
                ValueError(f"page '/{key[0]}' is also built by template '{owner}'"),
            ))


def _render_error(
    renderer: PageRenderer, status: int, message: str, locale: str, failures: list[PageFailure]
) -> RenderedPage | None:
    try:
        return renderer.render_error(status, message, locale)
    except Exception as exc:
        failures.append(PageFailure(f"(error view {status})", None, locale, "render", exc))
        return None


def _render_conf(app: PerseusApp, jobs: list[PageJob], locales: list[str], base_path: str) -> dict[str, Any]:
    return {
        "base_path": base_path,
        "locales": locales,
        "default_locale": locales[0],
        "templates": {t.name: {"root": t.root, "flags": page_flags(app, t), "strategy": page_strategy(app, t)}
                      for t in app.templates},
        "pages": {job.template.full_path(job.path): job.template.name for job in jobs},
    }
