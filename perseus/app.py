"""``PerseusApp``: the whole site, validated when it is constructed."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from perseus_core.paths import BadPath, normalize_path
from perseus_core.shell import DEFAULT_DOCUMENT, Shell, ShellError

from .errors import ConfigurationError, Redirect
from .http.location import BadRedirect
from .http.mounts import ASGIApp, MountTable
from .i18n.locales import Locales, is_language_tag
from .plugins.base import (
    added_parts,
    added_templates,
    call_hook,
    check_plugins,
    plugin_name,
    wanted_states,
)
from .signatures import check_parameters
from .template import Template, View

RESERVED_PREFIX = "/.perseus/"


class PerseusApp:
    """A site: templates plus everything shared by their pages.

    Args:
        templates: the site's templates; names must be unique.
        error_views: ``{status: view}``; each view is ``view(ctx, error)`` with
            ``error.status`` and ``error.message``, or the name of a file of
            ``templates_dir`` (``{404: "404.html"}``) that sees ``error`` and ``ctx`` (and
            ``t()``, ``link()``, ``static()``) and whose ``head`` block is the page's head.
            Statuses without a view get a plain built-in page. No exception text ever
            reaches one.
        error_head: ``error_head(ctx, error) -> str``, the ``<head>`` HTML of every
            error page (title, meta), localisable with ``ctx.t``; by default a title
            with the status and its English reason.
        templates_dir: where the files of ``Template(..., template="post.html")`` and
            template error views are, relative to ``root``.
        global_state: ``global_state() -> state``, sync or async, run once at build
            time; views see it as ``ctx.global_state``.
        request_global_state: ``request_global_state(request) -> state``, sync or
            async, run for every request of every page (and its JSON); views see it as
            ``ctx.global_state``. So every page is rendered per request (``private,
            no-store``): build state and build paths still run at build time, views and
            heads per request. State functions never see global state.
        amalgamate_global_states: ``amalgamate_global_states(build, request) -> state``
            merges both global states (it needs ``global_state`` and
            ``request_global_state``); without it the request one wins.
        static_dir: a directory served at ``/.perseus/static/``.
        static_aliases: ``{"/robots.txt": "static/robots.txt"}``, files served at
            their own URL; targets must lie inside the project.
        shell: a custom HTML document with ``</head>``, ``<div id="root">`` and
            ``</body>``. Its own ``<html lang>`` and ``<link rel="icon">``, if it
            has them, are kept instead of the ones perseus adds.
        locales: the locales every page is built in (``Locales("en-US", ["fr-FR"])``);
            pages are then served at ``/<locale>/<path>``. Without it the site has no
            i18n: the locale is ``xx-XX`` and URLs carry no locale.
        lang: the ``<html lang>`` of pages without a locale (a BCP 47 tag such as
            ``"en"`` or ``"pt-BR"``): every page of a site without locales, and error
            pages answered outside any locale. ``"en"`` by default, or the default
            locale with ``locales``; a page with a locale always has its locale.
        translations_dir: where ``<locale>.ftl`` or ``<locale>.json`` files are, relative
            to ``root``; read at build time.
        redirects: ``{"/old": "/new"}``, fixed redirects answered before any page
            (also by ``perseus export``, as refresh pages): a target string is a 308; a
            ``perseus.Redirect("/new", status=301)`` (or ``external=True``) says otherwise.
            Sources and targets are URL paths below the base path, as visitors see them
            (``/fr-FR/old`` on a site with locales; a locale-less source is answered
            before the locale redirect). A chain, a loop or a bad target is refused here;
            a source that is also a page fails the build.
        mounts: ``{"/api": asgi_app}``, ASGI apps (Starlette, FastAPI, a plain async
            callable) served below their URL prefix by the same server. A prefix starts
            with ``/``, does not end with one, is not below ``/.perseus/`` and does not
            overlap another; it owns itself and every path below it (a page there fails
            the build).
        plugins: plugin objects (``perseus.plugins.Plugin`` subclasses, such as
            ``Sitemap``, ``Feed`` and ``HeadTags``), run in this order for every hook.
            Their templates, static aliases and routes join the app's (a clash is
            refused, naming the plugin).
        root: the project directory that relative paths are resolved from; by
            default the directory of the module that constructs the app.
    """

    def __init__(
        self,
        templates: Sequence[Template],
        *,
        error_views: Mapping[int, View | str] | None = None,
        error_head: View | None = None,
        global_state: Callable[[], Any] | None = None,
        request_global_state: Callable[[Any], Any] | None = None,
        amalgamate_global_states: Callable[[Any, Any], Any] | None = None,
        static_dir: str | os.PathLike[str] | None = None,
        static_aliases: Mapping[str, str | os.PathLike[str]] | None = None,
        shell: str | None = None,
        locales: Locales | None = None,
        lang: str | None = None,
        translations_dir: str | os.PathLike[str] = "translations",
        templates_dir: str | os.PathLike[str] = "templates",
        redirects: Mapping[str, str | Redirect] | None = None,
        mounts: Mapping[str, ASGIApp] | None = None,
        plugins: Sequence[object] = (),
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else _caller_directory()
        self.root = self.root.resolve()
        self.plugins = check_plugins(plugins)
        self.templates = _check_templates(added_templates(self.plugins, list(templates)))
        # Templates whose built pages' states a plugin reads after the build.
        self.plugin_states = wanted_states(self.plugins)
        self.templates_dir = self.root / templates_dir
        error_views = error_views or {}
        if (any(isinstance(view, str) for view in error_views.values())
                or any(template.template_files for template in self.templates)):
            from .jinja_views import bind_template_files  # PERF: only sites using templates

            error_views, error_head = bind_template_files(
                self.templates_dir, self.root, [view for t in self.templates for view in (t.view, t.head)],
                error_views, error_head)
        self.error_views = _check_error_views(error_views)
        if error_head is not None and not callable(error_head):
            raise ConfigurationError("error_head must be a function returning HTML for <head>")
        self.error_head = error_head
        if global_state is not None and not callable(global_state):
            raise ConfigurationError("global_state must be a function returning the state")
        self.global_state = global_state
        for name, function in (("request_global_state", request_global_state),
                               ("amalgamate_global_states", amalgamate_global_states)):
            if function is not None and not callable(function):
                raise ConfigurationError(f"{name} must be a function returning the state")
        given: dict[str, object] = {"error_head": error_head, "global_state": global_state,
                                    "request_global_state": request_global_state,
                                    "amalgamate_global_states": amalgamate_global_states}
        for name, value in given.items():
            if value is not None:
                check_parameters(value, name, f"PerseusApp: {name}")
        if amalgamate_global_states is not None and (global_state is None or request_global_state is None):
            raise ConfigurationError("amalgamate_global_states merges build and request global state; it"
                                     " needs both global_state and request_global_state")
        self.request_global_state = request_global_state
        self.amalgamate_global_states = amalgamate_global_states
        self.static_dir = self._check_static_dir(static_dir)
        _check_page_scripts(self.templates, self.static_dir)
        self.static_aliases = self._check_aliases(
            added_parts(self.plugins, "static_aliases", static_aliases or {}, "static alias"))
        self.redirects = _check_redirects(redirects or {}, self.static_aliases)
        self.mounts = MountTable(added_parts(self.plugins, "routes", mounts or {}, "route"))
        for url in self.static_aliases:
            if self.mounts.find(url) is not None:
                raise ConfigurationError(f"static alias {url!r} is below a mount, which would hide it;"
                                         " move one of them")
        if locales is not None and not isinstance(locales, Locales):
            raise ConfigurationError(f"locales must be Locales('en-US', [...]), got {locales!r}")
        self.locales = locales
        self.lang = _check_lang(lang, locales)
        self.translations_dir = self.root / translations_dir
        self.shell_document = shell if shell is not None else DEFAULT_DOCUMENT
        try:
            Shell(self.shell_document, "")
        except ShellError as exc:
            raise ConfigurationError(f"shell: {exc}") from None
        for plugin in self.plugins:
            call_hook(plugin, "attach", self)
        names = {template.name for template in self.templates}
        for plugin in self.plugins:
            unknown = sorted(set(getattr(plugin, "page_states", ())) - names)
            if unknown:
                raise ConfigurationError(f"plugin '{plugin_name(plugin)}': page_states names templates the"
                                         f" app does not have: {unknown}")

    def template(self, name: str) -> Template:
        """The template called ``name``."""
        for template in self.templates:
            if template.name == name:
                return template
        raise KeyError(name)

    def _check_static_dir(self, static_dir: str | os.PathLike[str] | None) -> Path | None:
        if static_dir is None:
            return None
        path = (self.root / static_dir).resolve()
        if not path.is_dir():
            raise ConfigurationError(
                f"static_dir '{static_dir}' is not a directory (looked in {path}); create it"
                " or remove static_dir"
            )
        return path

    def _check_aliases(self, aliases: Mapping[str, str | os.PathLike[str]]) -> dict[str, Path]:
        checked: dict[str, Path] = {}
        for url, target in aliases.items():
            if not isinstance(url, str) or not url.startswith("/") or url == "/":
                raise ConfigurationError(f"static alias {url!r} must be a URL path such as '/robots.txt'")
            segments = url.split("/")[1:]
            if any(s in ("", ".", "..") or "\\" in s for s in segments) or url.startswith(RESERVED_PREFIX):
                raise ConfigurationError(
                    f"static alias {url!r} must be a plain path outside {RESERVED_PREFIX}"
                )
            # SECURITY: containment is checked on the resolved path, by component.
            path = (self.root / target).resolve()
            if not path.is_relative_to(self.root):
                raise ConfigurationError(
                    f"static alias {url!r} points outside the project ({target}); serving files"
                    " from outside the project root is refused"
                )
            if not path.is_file():
                raise ConfigurationError(f"static alias {url!r}: file '{target}' does not exist")
            checked[url] = path
        return checked


def _caller_directory() -> Path:
    # The module that called PerseusApp(...): two frames up from here.
    frame = sys._getframe(2)
    filename = frame.f_globals.get("__file__")
    return Path(filename).parent if filename else Path.cwd()


def _check_templates(templates: Sequence[Template]) -> list[Template]:
    templates = list(templates)
    if not templates:
        raise ConfigurationError("PerseusApp needs at least one template")
    seen: set[str] = set()
    for template in templates:
        if not isinstance(template, Template):
            raise ConfigurationError(f"templates must be Template objects, got {template!r}")
        if template.name in seen:
            raise ConfigurationError(
                f"two templates are named '{template.name}'; template names must be unique",
                template=template.name,
            )
        seen.add(template.name)
    return templates


# A fixed redirect given as a plain target: permanent, and keeps the method.
FIXED_REDIRECT = 308


def _check_page_scripts(templates: list[Template], static_dir: Path | None) -> None:
    """Every template's ``scripts`` name files of the static directory (checked now, not at
    the first visit: a missing module would only show as a console error in the browser)."""
    for template in templates:
        for script in template.scripts:
            if static_dir is None:
                raise ConfigurationError(
                    f"template '{template.name}': scripts={list(template.scripts)!r} are files of the"
                    " static directory, but the app has no static_dir; pass static_dir='static'"
                    " and put the modules there", template=template.name)
            if not (static_dir / script).is_file():
                raise ConfigurationError(
                    f"template '{template.name}': script {script!r} is not in the static directory"
                    f" (looked for {static_dir / script}); create it or fix the name",
                    template=template.name)


def _check_redirects(redirects: Mapping[str, str | Redirect],
                     aliases: Mapping[str, Path]) -> dict[str, Redirect]:
    """``{source: Redirect}`` with sources without a trailing slash; no chain, loop or clash."""
    if not isinstance(redirects, Mapping):
        raise ConfigurationError(f"redirects must be a mapping {{'/old': '/new'}}, got {redirects!r}")
    checked: dict[str, Redirect] = {}
    for source, target in redirects.items():
        source = _redirect_source(source)
        if source in aliases or source in checked:
            clash = "a static alias" if source in aliases else "given twice (with and without '/')"
            raise ConfigurationError(f"redirect source {source!r} is also {clash}: keep one")
        if isinstance(target, Redirect):
            checked[source] = target
            continue
        try:
            checked[source] = Redirect(target, FIXED_REDIRECT)
        except BadRedirect as exc:
            raise ConfigurationError(f"redirect {source!r}: {exc}") from None
    for source, redirect in checked.items():
        hops = [source]
        while not redirect.external:
            following = redirect.location.partition("?")[0].partition("#")[0]
            following = unquote(following.rstrip("/") or "/")
            if following not in checked:
                break
            hops.append(following)
            if following in hops[:-1]:
                raise ConfigurationError(f"redirects loop: {' -> '.join(hops)}; no page could be reached")
            redirect = checked[following]
        if len(hops) > 1:
            raise ConfigurationError(f"redirects chain: {' -> '.join(hops)}: point {source!r} at the last"
                                     " target, so that a visitor gets there in one hop")
    return checked


def _redirect_source(source: object) -> str:
    if not isinstance(source, str) or not source.startswith("/"):
        raise ConfigurationError(f"redirect source {source!r} must be a URL path such as '/old'")
    stripped = source.rstrip("/") or "/"
    segments = stripped.split("/")[1:] if stripped != "/" else []
    try:
        normalize_path(source)  # NOTE: what the server answers 400 to could never be redirected
    except BadPath:
        segments = [""]
    if (any(s in ("", ".", "..") for s in segments) or any(c in source for c in "\\%?#")
            or not source.isprintable() or source.startswith(RESERVED_PREFIX)):
        raise ConfigurationError(
            f"redirect source {source!r} must be a plain path (no empty, '.' or '..' segment, backslash,"
            f" '%', '?', '#' or control character) outside {RESERVED_PREFIX}"
        )
    return stripped


def _check_lang(lang: str | None, locales: Locales | None) -> str:
    if lang is None:
        return locales.default if locales is not None else "en"
    # SECURITY: the tag goes into the shell's <html lang="..."> as it is.
    if not is_language_tag(lang):
        raise ConfigurationError(f"lang {lang!r} is not a language tag such as 'en' or 'pt-BR'")
    return lang


def _check_error_views(views: Mapping[int, Any]) -> dict[int, View]:
    for status, view in views.items():
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ConfigurationError(f"error_views keys are HTTP error statuses (400-599), got {status!r}")
        if not callable(view):
            raise ConfigurationError(f"error view for {status} must be a function")
        check_parameters(view, "error view", f"PerseusApp: error_views[{status}]")
    return dict(views)
