"""Rendering one page (or error page) into its complete HTML and JSON response bodies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from perseus_core._escape import escape_html, escape_script_json
from perseus_core.shell import Shell

from .._state import encode_state
from ..app import PerseusApp
from ..client import runtime_path
from ..context import ErrorInfo, RenderContext, hashed_url
from ..errors import BuildError, ConfigurationError, PageFailure, TranslationError
from ..http.bodies import BUILT_PAGE_CACHE, ERROR_CACHE, HTML_TYPE, RenderedPage, etag
from ..i18n.locales import NO_LOCALE
from ..i18n.translators import NoTranslator, Translator, load_translator
from ..plugins.hooks import shell_insertions
from ..template import Template
from .dev_reload import reload_script
from .favicon import icon_link, with_icon

# Marks "the build's global state" (None is a valid global state).
_BUILD_GLOBAL: Any = object()
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token, matched whole
# SECURITY: a control character (tab aside) in a value: CR or LF would split the response,
# and granian silently drops a header holding any other, so a security header could vanish.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# An error view's own main landmark (else the page shell gives it one).
_MAIN = re.compile(r"<main[\s>]", re.IGNORECASE)
# A custom shell's own <html lang="...">, kept on pages without a locale.
_SHELL_LANG = re.compile(r"<html\b[^>]*\slang\s*=", re.IGNORECASE)
# The server frames every response itself; a page setting these would corrupt it.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                    "te", "trailer"}


def client_scripts(base_path: str, locale: str, build_id: str) -> str:
    """What every page loads after its state: the site's meta and the client runtime."""
    meta = escape_script_json(orjson.dumps(
        {"base": base_path, "locale": locale, "i18n": locale != NO_LOCALE, "build": build_id}
    )).decode()
    return (
        f'<script id="__perseus_meta" type="application/json">{meta}</script>'
        f'<script type="module" src="{escape_html(base_path)}{runtime_path()}"></script>'
    )


class _Frame:
    """What every page of one template shares around its parts: the shell of each locale
    (with the template's page script), whether its state is embedded, and the end of its JSON."""

    __slots__ = ("embeds_state", "json_tail", "name", "page_script", "shells")

    def __init__(self, name: str, script_urls: list[str], embeds_state: bool, build_id: str) -> None:
        page = escape_script_json(orjson.dumps({"template": name, "scripts": script_urls})).decode()
        self.page_script = f'<script id="__perseus_page" type="application/json">{page}</script>'
        self.json_tail = orjson.dumps({"template": name, "scripts": script_urls, "build": build_id})
        self.json_tail = b"," + self.json_tail[1:]  # appended to the page's own members
        self.embeds_state = embeds_state
        self.name = name
        self.shells: dict[str, Shell] = {}


class PageRenderer:
    """Renders pages of one app with its shell, global state and base path.

    ``build_id`` is the build the pages belong to (the served dist's, at request time):
    every page's meta and JSON name it, so the client notices a deploy.
    ``reload_build_id`` (watch mode only) adds the script that reloads the page once the
    server serves a build other than this one. ``static_files`` maps each file of the
    static directory to its hashed name (``ctx.static``). ``link_log`` (builds only)
    records every ``ctx.link`` of the pages it renders.
    """

    def __init__(
        self, app: PerseusApp, global_state: Any, base_path: str = "",
        translators: Mapping[str, Translator] | None = None, *, build_id: str,
        reload_build_id: str | None = None, static_files: Mapping[str, str] | None = None,
        link_log: list[tuple[str, str, str, str]] | None = None,
    ) -> None:
        self.app = app
        self.build_id = build_id
        self.link_log = link_log
        self.static_files = static_files or {}
        self.reload_build_id = reload_build_id
        self.global_state = global_state
        self.base_path = base_path
        self.translators = translators or {}
        self._no_translator = NoTranslator()
        # PERF: one frame per template (and "" for error pages), made on its first page.
        self._frames: dict[str, _Frame] = {}
        self._document = with_icon(app.shell_document, icon_link(self.static_files, base_path))
        self._lang = "" if _SHELL_LANG.search(app.shell_document) else app.lang

    def _frame(self, template: Template | None) -> _Frame:
        name = "" if template is None else template.name
        frame = self._frames.get(name)
        if frame is None:
            if template is None:
                frame = _Frame("", [], False, self.build_id)
            else:
                frame = _Frame(name, self._script_urls(template), template.embeds_state, self.build_id)
            self._frames[name] = frame
        return frame

    def _script_urls(self, template: Template) -> list[str]:
        urls = []
        for script in template.scripts:
            hashed = self.static_files.get(script)
            if hashed is None:
                raise ConfigurationError(
                    f"template '{template.name}': script {script!r} was not in the static directory"
                    " when the site was built; add it and rebuild", template=template.name)
            urls.append(hashed_url(self.base_path, hashed))
        return urls

    def shell(self, locale: str, template: Template | None = None) -> Shell:
        """The shell of ``template``'s pages (None: error pages) in ``locale``."""
        frame = self._frame(template)
        shell = frame.shells.get(locale)
        if shell is None:
            scripts = frame.page_script + client_scripts(self.base_path, locale, self.build_id)
            if self.reload_build_id is not None:
                scripts += reload_script(self.base_path, self.reload_build_id)
            document = self._document
            if self.app.plugins:  # NOTE: once per template and locale, so no cost per request
                head, body_end = shell_insertions(self.app.plugins, self.context(frame.name, "", locale))
                at = document.find("</head>")
                document = document[:at] + head + document[at:]
                scripts += body_end
            shell = Shell(document, scripts, frame.embeds_state)
            frame.shells[locale] = shell
        return shell

    def context(self, template: str, path: str, locale: str) -> RenderContext:
        translator = self.translators.get(locale, self._no_translator)
        return RenderContext(locale, path, template, self.global_state, self.base_path, translator,
                             self.static_files, self.link_log)

    def render(self, template: Template, path: str, locale: str, state: Any,
               global_state: Any = _BUILD_GLOBAL) -> RenderedPage:
        """Render ``template`` at sub-path ``path``; state functions have already run.

        ``global_state`` replaces the build's for a page rendered per request.
        """
        return self.assemble(template, locale, *self.parts(template, path, locale, state, global_state))

    def parts(self, template: Template, path: str, locale: str, state: Any,
              global_state: Any = _BUILD_GLOBAL, ctx: RenderContext | None = None,
              encode: bool = True) -> tuple[str, str, bytes, list[tuple[str, str]]]:
        """A page's head, content, encoded state and headers, before assembly.

        ``ctx``, when given, is the page's context (made by ``context``) and is used as is.
        ``encode=False`` leaves the state unencoded (``b""``): a body that does not carry it.
        """
        if ctx is None:
            ctx = self.context(template.name, template.full_path(path), locale)
        if global_state is not _BUILD_GLOBAL:
            ctx = RenderContext(ctx.locale, ctx.path, ctx.template, global_state, ctx.base_path,
                                ctx.translator, ctx.static_files)
        content = _text(template.view(ctx, state), "view")
        head = _text(template.head(ctx, state), "head") if template.head else ""
        headers = [("content-type", HTML_TYPE), ("cache-control", BUILT_PAGE_CACHE)]
        if template.set_headers is not None:
            headers = merge_headers(headers, template.set_headers(ctx, state), template.name)
        return head, content, encode_state(state) if encode else b"", headers

    def render_error(self, status: int, message: str, locale: str, detail: str | None = None,
                     views: bool = True) -> RenderedPage:
        """Render the error page for ``status`` with the app's error view, or a plain one.

        ``detail`` is the message a state function gave (``HTTPError(410, "...")``): error
        views get it as ``error.message``; the plain page and the state show ``message``
        only. ``views=False`` renders the plain page even where the app has views.
        Either way the content is one ``<main>`` landmark: an error view's content is
        put in one unless it has its own.
        """
        ctx = self.context("", "", locale)
        error = ErrorInfo(status, detail if detail is not None else message)
        view = self.app.error_views.get(status) if views else None
        if view is not None:
            content = _text(view(ctx, error), f"error view {status}")
            if _MAIN.search(content) is None:
                content = f"<main>{content}</main>"
        else:
            content = f"<main><h1>{status}</h1><p>{escape_html(message)}</p></main>"
        if self.app.error_head is not None and views:
            head = _text(self.app.error_head(ctx, error), "error_head")
        else:
            head = f"<title>{status} {escape_html(message)}</title>"
        summary = {"status": status, "message": message}
        state_json = encode_state({"error": summary})
        headers = [("content-type", HTML_TYPE), ("cache-control", ERROR_CACHE)]
        html = self.html(locale, head, content, state_json, None)
        # NOTE: "error" first, as in every JSON error perseus answers (API callers tell an
        # error by it); the rest is the error view's page JSON, which the client shows.
        body = b'{"error":' + orjson.dumps(summary) + b"," + self.json(head, content, state_json, None)[1:]
        return RenderedPage(html, body, etag(html), etag(body), headers)

    def assemble(
        self, template: Template, locale: str, head: str, content: str, state_json: bytes,
        headers: list[tuple[str, str]],
    ) -> RenderedPage:
        """A page's two bodies with their ETags, from its ``parts``."""
        html = self.html(locale, head, content, state_json, template)
        body = self.json(head, content, state_json, template)
        return RenderedPage(html, body, etag(html), etag(body), headers)

    def html(self, locale: str, head: str, content: str, state_json: bytes,
             template: Template | None) -> bytes:
        """The whole HTML document of a page of ``template`` (None: an error page), with its
        state only where the template embeds it."""
        lang = self._lang if locale == NO_LOCALE else locale
        shell = self.shell(locale, template)
        # PERF: a state nothing reads on the client is neither escaped nor sent.
        escaped = escape_script_json(state_json) if shell.embeds_state else b""
        return shell.page(lang, head, content, escaped)

    def json(self, head: str, content: str, state_json: bytes, template: Template | None) -> bytes:
        """The JSON endpoint's body for a page: ``{"state", "head", "content", "template",
        "scripts", "build"}`` (``scripts`` the page scripts' URLs)."""
        return b"".join(
            (b'{"state":', state_json, b',"head":', orjson.dumps(head),
             b',"content":', orjson.dumps(content), self._frame(template).json_tail)
        )


def merge_headers(
    defaults: list[tuple[str, str]], extra: Mapping[str, str], template: str
) -> list[tuple[str, str]]:
    """Our headers overridden by name (case-insensitively) with ``template``'s own.

    Raises:
        TypeError: ``extra`` is not a mapping.
        ValueError: a header name that is not a token, one the server frames itself, or a
            value that is not text or holds a control character other than tab. The
            message names the template and the header: the build reports it with the
            page, and at request time it is the logged reason of the 500.
    """
    if not isinstance(extra, Mapping):
        raise TypeError(f"set_headers of template '{template}' must return a mapping of header"
                        f" names to values, got {extra!r}")
    chosen = {name.lower(): (name, value) for name, value in defaults}
    for name, value in extra.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"set_headers of template '{template}' returned an invalid header"
                             f" name {name!r}")
        if name.lower() in _FRAMING_HEADERS:
            raise ValueError(f"set_headers of template '{template}' may not set {name!r}: the server"
                             " frames responses itself")
        if not isinstance(value, str):
            raise ValueError(f"set_headers of template '{template}' returned {value!r} for header"
                             f" {name!r}: header values must be str")
        control = _CONTROL.search(value)
        if control is not None:
            raise ValueError(f"set_headers of template '{template}' returned a value for header"
                             f" {name!r} with the control character {control.group()!r}; header"
                             " values may hold no control character but tab")
        chosen[name.lower()] = (name.lower(), value)
    return list(chosen.values())


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must return HTML text (str), got {type(value).__name__}")
    return value


def load_translators(app: PerseusApp) -> dict[str, Translator]:
    """Every locale's translator; all missing or invalid files reported in one error."""
    if app.locales is None:
        return {}
    translators: dict[str, Translator] = {}
    failures: list[PageFailure] = []
    for locale in app.locales.all:
        try:
            translators[locale] = load_translator(app.translations_dir, locale)
        except TranslationError as exc:
            failures.append(PageFailure("(translations)", None, locale, "load", exc))
    if failures:
        raise BuildError(failures)
    return translators
