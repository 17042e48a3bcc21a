"""On-demand revalidation (``perseus revalidate``): mark stored pages due, from any process.

A mark rewrites the page's record with ``DUE_ON_DEMAND`` as its due time, in one short
LMDB transaction, so a running server (any worker) needs no signal and no restart: the
next request for the page is answered with the stored version at once and starts one
regeneration in the background, which ignores ``should_revalidate``.

Only pages with a record can be marked: pages of revalidating templates (seeded by the
build) and incremental pages that were generated. Pages are found from the build's
``render_conf.json``; the app's code is never imported. A tag's pages are found in the
store's tag index (``records.tag_key``), and those the build prerendered with it in
``dist/tags.json`` (reported: they cannot be marked).
"""

from __future__ import annotations

import difflib
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from perseus_core.plan import (
    DUE_ON_DEMAND,
    INCREMENTAL,
    REVALIDATES,
    renders_per_request,
    strategy_name,
    uses_mutable_store,
)
from perseus_core.routing import INCREMENTAL as INCREMENTAL_ROUTE
from perseus_core.routing import NO_LOCALE as UNKNOWN_LOCALE
from perseus_core.routing import PAGE, BadPath, Router, normalize_path

from .errors import PerseusError, RevalidateError, StaleServerError, StoreNotFound
from .http.urls import page_url
from .i18n.locales import NO_LOCALE
from .server.serving import running_servers
from .settings import Settings, load_settings
from .stores.immutable import RENDER_CONF, mutable_location, read_built_tags, read_manifest
from .stores.mutable import MutableStore, lease_owner
from .stores.records import PageRecords, PageVersion, decode_record, page_key, tag_key
from .tags import check_tag

# A regeneration under way holds the page's lease: wait this long for it to commit, so
# the mark lands on its version rather than being overwritten by it.
LEASE_WAIT_SECONDS = 2.0
LEASE_POLL_SECONDS = 0.05
MARK_LEASE_SECONDS = 5.0


@dataclass
class RevalidationReport:
    """What ``revalidate`` did: the URLs it marked, and those it could not mark with why.

    A skipped entry names a URL, or ``--tag T`` / ``--template T`` for a tag or template
    that gave no page to mark.
    """

    marked: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as ``POST /.perseus/revalidate`` answers it."""
        return {"marked": self.marked,
                "skipped": [{"target": target, "reason": reason} for target, reason in self.skipped]}


class _Site:
    """The parts of a build that say which URL is which kind of page, routed as the server routes."""

    def __init__(self, dist: Path) -> None:
        self.build_id: str = read_manifest(dist)["build_id"]
        conf: dict[str, Any] = orjson.loads((dist / RENDER_CONF).read_bytes())
        self.locales: list[str] = conf["locales"]
        self.i18n = conf.get("default_locale", NO_LOCALE) != NO_LOCALE
        self.base_path: str = conf.get("base_path", "")
        self.templates: dict[str, dict[str, Any]] = conf["templates"]
        self.flags = {name: int(settings["flags"]) for name, settings in self.templates.items()}
        self.stored = any(uses_mutable_store(flags) for flags in self.flags.values())
        pages: dict[str, str] = conf["pages"]
        self.page_templates = list(pages.values())
        incremental = [name for name, flags in self.flags.items() if flags & INCREMENTAL]
        self.incremental = incremental
        self.router = Router({path: i for i, path in enumerate(pages)},
                             {self.templates[name]["root"]: i for i, name in enumerate(incremental)},
                             self.locales if self.i18n else ())

    def url(self, locale: str, path: str) -> str:
        return page_url(locale if self.i18n else None, path, self.base_path)

    def locate(self, url: str) -> tuple[str, str, str | None, bool]:
        """``(locale, page path, template, built)`` of a URL path, found by the server's router.

        ``template`` is None when nothing serves the path; ``built`` is False for a path
        below an incremental template that the build did not render.

        Raises:
            ValueError: saying what is wrong with the URL.
        """
        path = unquote(url)
        if self.base_path and (path == self.base_path or path.startswith(self.base_path + "/")):
            path = path[len(self.base_path):]
        try:
            verdict, ident, locale_index = self.router.resolve(path)
        except BadPath:
            raise ValueError("not a valid URL path (control character, invalid UTF-8 or malformed"
                             " %-escape)") from None
        key = normalize_path(path)
        if verdict == UNKNOWN_LOCALE:
            example = self.url(self.locales[0], key)
            raise ValueError(f"pages of this site are named with their locale, e.g. {example}")
        locale = NO_LOCALE
        if self.i18n:
            locale = self.locales[locale_index]
            key = key.partition("/")[2]
        if verdict == PAGE:
            return locale, key, self.page_templates[ident], True
        if verdict == INCREMENTAL_ROUTE:
            return locale, key, self.incremental[ident], False
        return locale, key, None, False

    def template_of(self, path: str) -> tuple[str | None, bool]:
        """The template answering route key ``path`` and whether the build rendered it."""
        verdict, ident = self.router.match(path)
        if verdict == PAGE:
            return self.page_templates[ident], True
        if verdict == INCREMENTAL_ROUTE:
            return self.incremental[ident], False
        return None, False

    def why_not(self, name: str, built: bool = False) -> str | None:
        """Why pages of template ``name`` (``built`` ones only, if set) cannot be revalidated.

        None: they can. The built pages of an incremental template that does not
        revalidate are prerendered like any other.
        """
        flags = self.flags[name]
        if flags & REVALIDATES or (flags & INCREMENTAL and not built):
            return None
        if renders_per_request(flags):
            return f"rendered on every request (template '{name}'): always fresh, nothing to revalidate"
        return (f"prerendered by the build (template '{name}', {strategy_name(flags)}):"
                " run `perseus build` to change it")


def revalidate(dist: str | os.PathLike[str] = "dist", paths: Iterable[str] = (), *,
               tags: Iterable[str] = (), template: str | None = None, all_pages: bool = False,
               ignore_missing: bool = False, settings: Settings | None = None) -> RevalidationReport:
    """Mark pages of the site built in ``dist`` due: the next request regenerates them.

    Like Next.js's ``revalidatePath`` and ``revalidateTag``: the next request for each page
    is answered with the version there is and starts its regeneration in the background
    (in whichever worker of a running server answers it); the requests after that get the
    new version.

    Args:
        dist: the build (its mutable store is ``dist/mutable`` or ``PERSEUS_MUTABLE_DIR``).
        paths: URL paths such as ``/news`` (``/en-US/news`` on a site with locales).
        tags: also mark every stored page whose current version carries one of these tags
            (``perseus.State(value, tags=[...])``); built pages with the tag that cannot be
            revalidated (prerendered) are reported, as a tag no page carries is.
        template: also mark every stored page of this template.
        all_pages: mark every stored page.
        ignore_missing: report pages that cannot be marked instead of raising.
        settings: where the mutable store is (``PERSEUS_MUTABLE_DIR``, ``PERSEUS_STORE``);
            by default, those of the environment and the working directory's pyproject.toml.

    Raises:
        RevalidateError: some pages cannot be marked (not revalidating or incremental,
            incremental but never generated, unknown); the others were marked.
        StaleServerError: a running server serves another build than ``dist``'s (one
            started before a rebuild); nothing was marked.
        TagError: a tag that is not one (nothing was marked).
        PerseusError: no build in ``dist``, or an unknown template.
    """
    if settings is None:
        settings = load_settings(Path.cwd())
    site = _Site(Path(dist))
    report = RevalidationReport()
    if template is not None and template not in site.templates:
        close = difflib.get_close_matches(template, list(site.templates), 1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise PerseusError(f"no template named '{template}' in this build{hint}")
    if template is not None and (reason := site.why_not(template)) is not None:
        report.skipped.append((f"--template {template}", f"pages are {reason}"))
    wanted_tags = list(dict.fromkeys(check_tag(tag) for tag in tags))
    wanted = list(dict.fromkeys(paths))
    targets: dict[tuple[str, str], str] = {}
    for url in wanted:
        target = _classify(site, url, report)
        if target is not None:
            targets[target] = url
    # Tags that named some page: built pages that cannot be marked are reported here.
    carried = _built_but_unmarkable(site, Path(dist), wanted_tags, report)
    location = mutable_location(Path(dist), settings.mutable_dir)
    if site.stored and (targets or wanted_tags or template is not None or all_pages):
        _refuse_servers_of_other_builds(site, Path(dist), settings)
        if not location.is_dir():
            raise PerseusError(f"no mutable store in {location}: was the site built with another"
                               " PERSEUS_MUTABLE_DIR?")
        with _store_session(location, settings) as store:
            records = PageRecords(store, site.build_id)
            if template is not None or all_pages:
                for key in _stored_pages(store, site.build_id, None if all_pages else template):
                    targets.setdefault(key, site.url(*key))
            for tag in wanted_tags:
                for key in tagged_pages(store, site.build_id, tag):
                    targets.setdefault(key, site.url(*key))
                    carried.add(tag)
            for (locale, path), url in targets.items():
                if _mark(store, records, locale, path):
                    report.marked.append(url)
                else:
                    report.skipped.append((url, _unstored(site, path)))
    report.skipped += [(f"--tag {tag}", "no page carries this tag") for tag in wanted_tags
                       if tag not in carried]
    if report.skipped and not ignore_missing:
        raise RevalidateError(report.skipped)
    return report


def _refuse_servers_of_other_builds(site: _Site, dist: Path, settings: Settings) -> None:
    """Raise unless every running server of ``dist`` serves its build: the others read the
    store of the build they started on, which marks made here never reach."""
    others = [server for server in running_servers(dist, settings.mutable_dir)
              if server.build_id != site.build_id]
    if not others:
        return
    named = "; ".join(f"pid {server.pid} serves build {server.build_id} from the store {server.store}"
                      for server in others)
    raise StaleServerError(
        f"cannot revalidate: {dist} holds build {site.build_id}, but a server started before that"
        f" build still runs ({named}). It reads the store of its own build, which marks for build"
        f" {site.build_id} never reach: restart it (`perseus serve --no-build`) to serve build"
        f" {site.build_id}, fresh from the build. Nothing was marked.",
        dist_build=site.build_id, server_builds=[server.build_id for server in others],
    )


@contextmanager
def _store_session(location: Path, settings: Settings) -> Iterator[MutableStore]:
    """The configured store (``PERSEUS_STORE``) for a few writes: with Redis, marks go there
    and are announced to every machine's cache, and to this machine's LMDB."""
    # NOTE: imported here so that `import perseus` does not load LMDB.
    from .stores.lmdb_store import lmdb_session

    with lmdb_session(location, settings.lmdb_map_size) as local:
        url = settings.redis_url
        if url is None:
            yield local
            return
        from .stores.redis_store import RedisStore
        from .stores.tiered import TieredStore

        remote = RedisStore(url, timeout=settings.redis_timeout)
        try:
            yield TieredStore(local, remote)  # never started: this process only writes
        finally:
            remote.close()


def _classify(site: _Site, url: str, report: RevalidationReport) -> tuple[str, str] | None:
    """The page a URL names if it could be marked; else why not, in ``report``."""
    try:
        locale, path, name, built = site.locate(url)
    except ValueError as exc:
        report.skipped.append((url, str(exc)))
        return None
    if name is None:
        report.skipped.append((url, "no page of this site has this path"))
        return None
    reason = site.why_not(name, built)
    if reason is not None:
        report.skipped.append((url, reason))
        return None
    return locale, path


def _unstored(site: _Site, path: str) -> str:
    name, built = site.template_of(path)
    if built:
        return (f"no stored version of this page of template '{name}' in the mutable store"
                " (deleted, or written by another build)")
    return (f"not generated yet (incremental template '{name}'): it is generated on its first"
            " request, nothing to revalidate")


def _stored_pages(store: MutableStore, build_id: str, template: str | None) -> list[tuple[str, str]]:
    """``(locale, path)`` of every page stored for this build (of ``template`` if given)."""
    found = []
    for _, value in store.items():
        version = decode_record(value)
        if version is not None and version.build_id == build_id and template in (None, version.template):
            found.append((version.locale, version.path))
    return sorted(found)


def _built_but_unmarkable(site: _Site, dist: Path, tags: list[str], report: RevalidationReport) -> set[str]:
    """Report the built pages carrying ``tags`` that cannot be revalidated (prerendered,
    rendered per request); the tags that named any page are returned."""
    built = read_built_tags(dist) if tags else {}
    carried = set()
    for tag in tags:
        for locale, path in built.get(tag, ()):
            name, _ = site.template_of(path)
            reason = site.why_not(name, True) if name is not None else None
            if reason is not None:  # the others are in the store, found by its index
                report.skipped.append((site.url(locale, path), reason))
                carried.add(tag)
    return carried


def tagged_pages(store: MutableStore, build_id: str, tag: str) -> list[tuple[str, str]]:
    """``(locale, path)`` of every page of ``build_id`` whose current version carries ``tag``,
    found in the tag's index set; entries whose page no longer carries it are dropped.

    NOTE: an entry is dropped only under its page's lease (a writer adds the entry, then
    the version, holding the lease), and left to the next look when the lease is taken.
    Versions are judged as Redis holds them, not by this machine's copy, which may be old
    when no server here keeps it current.
    """
    name = tag_key(tag)
    current_store: MutableStore = getattr(store, "remote", store)  # a TieredStore's Redis
    found = []
    for key in store.index_members(name):
        version = _version_at(current_store, key)
        if version is not None and version.build_id == build_id and tag in version.tags:
            found.append((version.locale, version.path))
        elif version is None or version.build_id == build_id:  # another build's: not ours to judge
            with _page_lease(store, key, wait=False) as held:
                current = _version_at(current_store, key) if held else None
                if held and (current is None or tag not in current.tags):
                    store.index_remove(name, [key])
    return sorted(found)


def _version_at(store: MutableStore, key: bytes) -> PageVersion | None:
    try:
        return decode_record(store.read(key))
    except StoreNotFound:
        return None


@contextmanager
def _page_lease(store: MutableStore, key: bytes, *, wait: bool) -> Iterator[bool]:
    """Hold the page's regeneration lease while the block runs; yields whether it is held.

    ``wait``: wait a little for a regeneration under way to commit, as a mark does.
    """
    owner = lease_owner()
    deadline = time.monotonic() + (LEASE_WAIT_SECONDS if wait else 0.0)
    while True:
        held = store.acquire_lease(key, owner, MARK_LEASE_SECONDS, time.time()).acquired
        if held or time.monotonic() >= deadline:
            break
        time.sleep(LEASE_POLL_SECONDS)
    try:
        yield held
    finally:
        if held:
            store.release_lease(key, owner)


def _mark(store: MutableStore, records: PageRecords, locale: str, path: str) -> bool:
    """Rewrite the page's record as due now; False when it has none."""
    if records.get(locale, path) is None:
        return False
    # NOTE: marked even when the lease stays taken; at worst the page is regenerated once more.
    with _page_lease(store, page_key(locale, path), wait=True):
        current = records.get(locale, path)  # as it is now: a regeneration may have committed
        if current is None:
            return False
        records.put(replace(current, due_at=DUE_ON_DEMAND))
        return True

