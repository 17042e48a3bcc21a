"""``Template``: one kind of page, its view and the strategies that give it state."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from perseus_core.durations import DurationError, parse_duration
from perseus_core.plan import REVALIDATES, strategy_name, template_flags, uses_mutable_store

from .errors import ConfigurationError
from .http.urls import RESERVED_SEGMENT
from .signatures import check_parameters

View = Callable[[Any, Any], str]
HeadersFunction = Callable[[Any, Any], Mapping[str, str]]



def is_reserved(page_path: str) -> bool:
    """Whether a page path (no leading slash) would be shadowed by perseus's own routes."""
    return page_path.split("/", 1)[0] == RESERVED_SEGMENT


# Template names become URL roots: lower-case path segments, '/' allowed inside.
_NAME = re.compile(r"^[A-Za-z0-9_\-.~]+(/[A-Za-z0-9_\-.~]+)*$")
# A page script: a relative path of the static directory naming an ES module.
_SCRIPT = re.compile(r"[A-Za-z0-9_\-.~]+(/[A-Za-z0-9_\-.~]+)*\.m?js")


@dataclass(frozen=True)
class BuildPaths:
    """The paths a template builds below its root, with helper ("extra") state.

    ``extra`` is given to every state function of the template as ``info.extra``; it
    never reaches the browser.
    """

    paths: Iterable[str]
    extra: Any = None


class Template:
    """A template: a view plus the strategies that produce its pages' state.

    Args:
        name: the URL root of its pages; ``"index"`` is served at ``/``. May contain
            ``/`` (``"docs/api"``).
        template: the file of the app's ``templates_dir`` (``"post.html"``) rendering the
            page with Jinja2, the recommended way to write a view: ``.html``, ``.htm`` and
            ``.xml`` files escape every value unless marked ``|safe``, and an undefined name
            fails the build. The template sees ``state``, ``ctx``, ``t()``, ``link()``,
            ``static()`` and ``global_state``, and may extend and include other files of
            the directory. The page's body is the template rendered whole (a layout's
            navigation and its ``{% block content %}``) except its ``{% block head %}``,
            which is the page's ``<head>`` (title, meta) unless ``head`` or
            ``head_template`` is given. Give ``template`` or ``view``, not both.
        head_template: a file rendered whole as the page's ``<head>``.
        view: ``view(ctx, state) -> str``, the page body as HTML text (a Python view:
            escape every value yourself), with its landmarks (one ``<main>``; perseus adds
            none around a page).
        head: ``head(ctx, state) -> str``, HTML put into ``<head>``: the ``<title>``, a
            ``<meta name="description">`` (perseus adds none: search engines show it under
            the title), the stylesheet (``ctx.static("style.css")``). Charset, viewport,
            ``<html lang>`` and the favicon link come from the shell.
        set_headers: ``set_headers(ctx, state) -> Mapping[str, str]``, extra response
            headers for the page's HTML; they override perseus's defaults by name. A
            name that is not a token, a framing header or a value with a control
            character (tab aside) fails the build of a built page, and answers 500 (logged
            with the template and header) for a page rendered or generated on request.
        build_paths: ``build_paths() -> BuildPaths | list[str]``, sync or async.
        build_state: ``build_state(info) -> state``, sync or async, run at build time
            once per path and locale (and again when a page is regenerated). Returning
            ``perseus.State(state, tags=[...])`` tags the page for ``perseus revalidate --tag``.
        request_state: ``request_state(info, request) -> state``, sync or async, run on
            every request; such pages are never stored (``Cache-Control: private, no-store``).
        amalgamate_states: ``amalgamate_states(info, build, request) -> state`` merges
            both states; without it the request state wins.
        revalidate_after: a Perseus time string (``"5s"``, ``"1h30m"``, ``"1w"``; units
            ``s m h d w M y``) or a ``timedelta``: pages are regenerated in the
            background once this long has passed since they were generated.
        should_revalidate: ``should_revalidate(info, request) -> bool``, sync or async;
            asked (once ``revalidate_after`` has passed, if both are set) whether to
            regenerate the page.
        incremental: generate a path below the template that the build did not render
            on its first request, store it, then serve it like a built page.
        blocking: whether sync ``request_state``, ``amalgamate_states`` and, at request
            time (a first generation, a regeneration), ``build_state`` may block (I/O,
            slow work); they then run in a thread pool, the default. ``blocking=False``
            promises they are quick and never block: they run on the event loop, which
            saves the thread hop (tens of microseconds) but stalls every other request
            while they run. Async functions always run on the loop.
        scripts: ES modules of the static directory (``["counter.js"]``, ``.js`` or
            ``.mjs``) that make the template's pages interactive. Each exports
            ``mount(root, page)``, called with the ``#root`` element and ``{state, locale,
            path, template}`` on the first load and after every client-side navigation to
            a page of this template; it may return a function, called when the visitor
            leaves. They are served under content-hashed URLs (cached for ever) and the
            page embeds its state for them. The app checks that each file exists when it
            is constructed.
        embed_state: embed the page's state in its HTML (``window.perseus.state`` on the
            first load) though the template has no scripts, for a script of your own
            (in the view or the shell). Without scripts or this, the HTML carries no state:
            the page's JSON (``/.perseus/page/<locale>/<path>.json``) always does.
    """

    def __init__(
        self,
        name: str,
        *,
        template: str | None = None,
        head_template: str | None = None,
        view: View | None = None,
        head: View | None = None,
        set_headers: HeadersFunction | None = None,
        build_paths: Callable[[], Any] | None = None,
        build_state: Callable[[Any], Any] | None = None,
        request_state: Callable[[Any, Any], Any] | None = None,
        amalgamate_states: Callable[[Any, Any, Any], Any] | None = None,
        revalidate_after: str | timedelta | None = None,
        should_revalidate: Callable[[Any, Any], Any] | None = None,
        incremental: bool = False,
        blocking: bool = True,
        scripts: Iterable[str] = (),
        embed_state: bool = False,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigurationError(
                f"template name {name!r} is not a URL path: use letters, digits, '-', '_', '.'"
                " and '/' between segments, with no leading or trailing '/'",
                template=str(name),
            )
        if any(segment in (".", "..") for segment in name.split("/")):
            raise ConfigurationError(f"template name {name!r} has a '.' or '..' segment", template=name)
        if is_reserved(name):
            raise ConfigurationError(
                f"template name {name!r} is reserved: perseus serves its own files below"
                f" /{RESERVED_SEGMENT}/",
                template=name,
            )
        if template is not None or head_template is not None:
            # PERF: jinja2 is imported only by sites that use templates.
            from .jinja_views import template_views

            view, head = template_views(name, template, head_template, view, head)
        elif view is None:
            raise ConfigurationError(f"template '{name}' has no view: pass template='{name}.html' (a"
                                     " Jinja2 file of templates/) or view=a function returning HTML",
                                     template=name)
        _require_callable(name, "view", view, required=True)
        for field, value in (
            ("head", head),
            ("set_headers", set_headers),
            ("build_paths", build_paths),
            ("build_state", build_state),
            ("request_state", request_state),
            ("amalgamate_states", amalgamate_states),
            ("should_revalidate", should_revalidate),
        ):
            _require_callable(name, field, value, required=False)
        if amalgamate_states is not None and (build_state is None or request_state is None):
            raise ConfigurationError(
                f"template '{name}': amalgamate_states merges build and request state; it needs"
                " both build_state and request_state",
                template=name,
            )
        if not isinstance(incremental, bool):
            raise ConfigurationError(f"template '{name}': incremental must be True or False", template=name)
        if not isinstance(blocking, bool):
            raise ConfigurationError(f"template '{name}': blocking must be True or False", template=name)
        if not isinstance(embed_state, bool):
            raise ConfigurationError(f"template '{name}': embed_state must be True or False", template=name)
        assert view is not None  # checked above; for mypy
        self.name = name
        self.view: View = view
        self.template_files = tuple(file for file in (template, head_template) if file is not None)
        self.head = head
        self.set_headers = set_headers
        self.build_paths = build_paths
        self.build_state = build_state
        self.request_state = request_state
        self.amalgamate_states = amalgamate_states
        self.revalidate_after = _interval(name, revalidate_after)
        self.should_revalidate = should_revalidate
        self.incremental = incremental
        self.blocking = blocking
        self.scripts = _check_scripts(name, scripts)
        self.embed_state = embed_state

    @property
    def embeds_state(self) -> bool:
        """Whether its pages' HTML carries their state: something on the client reads it."""
        return bool(self.scripts) or self.embed_state

    @property
    def root(self) -> str:
        """The URL path of the template's root page, without slashes (``""`` for index)."""
        return "" if self.name == "index" else self.name

    @property
    def strategy_flags(self) -> int:
        """The template's strategies as ``perseus_core.plan`` flags: the one classification.

        Read from the fields as they are now (a field set after construction counts).
        """
        return template_flags(
            self.build_paths is not None, self.build_state is not None, self.request_state is not None,
            self.amalgamate_states is not None, self.revalidate_after is not None,
            self.should_revalidate is not None, bool(self.incremental))

    @property
    def revalidates(self) -> bool:
        """Whether pages of this template are regenerated after they are built."""
        return (self.strategy_flags & REVALIDATES) != 0

    @property
    def uses_mutable_store(self) -> bool:
        """Whether serving this template writes the mutable store (revalidation, incremental)."""
        return uses_mutable_store(self.strategy_flags)

    @property
    def strategy(self) -> str:
        """The template's strategy in words, as the route table shows it."""
        return strategy_name(self.strategy_flags)

    def full_path(self, path: str) -> str:
        """The page path of ``path`` below this template: ``post`` + ``a`` -> ``post/a``."""
        if not path:
            return self.root
        return f"{self.root}/{path}" if self.root else path

    def __repr__(self) -> str:
        return f"Template({self.name!r})"


def _require_callable(template: str, field: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            raise ConfigurationError(
                f"template '{template}' has no {field}: pass {field}=a function returning HTML",
                template=template,
            )
        return
    if not callable(value):
        raise ConfigurationError(
            f"template '{template}': {field} must be a function, got {type(value).__name__}",
            template=template,
        )
    check_parameters(value, field, f"template '{template}': {field}", template=template)


def _check_scripts(template: str, scripts: Iterable[str]) -> tuple[str, ...]:
    """``scripts`` as relative paths of ES modules; whether the files exist is the app's check."""
    if isinstance(scripts, str):
        raise ConfigurationError(f"template '{template}': scripts must be a list of file names, such as"
                                 f" scripts=[{scripts!r}]", template=template)
    checked = []
    for script in scripts:
        if not isinstance(script, str) or not _SCRIPT.fullmatch(script):
            raise ConfigurationError(
                f"template '{template}': script {script!r} is not an ES module of the static directory:"
                " give its path there, ending in .js or .mjs (\"counter.js\", \"js/menu.mjs\")",
                template=template)
        if any(segment in (".", "..") for segment in script.split("/")):
            raise ConfigurationError(f"template '{template}': script {script!r} has a '.' or '..' segment;"
                                     " name a file inside the static directory", template=template)
        if script not in checked:
            checked.append(script)
    return tuple(checked)


def _interval(template: str, value: str | timedelta | None) -> float | None:
    """``revalidate_after`` in seconds; a bad value is a ``ConfigurationError`` now, not later."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds <= 0:
            raise ConfigurationError(
                f"template '{template}': revalidate_after must be positive, got {value}", template=template
            )
        return seconds
    if isinstance(value, str):
        try:
            return float(parse_duration(value))
        except DurationError as exc:
            raise ConfigurationError(
                f"template '{template}': invalid revalidate_after: {exc}", template=template
            ) from None
    raise ConfigurationError(
        f"template '{template}': revalidate_after must be a time string such as '1h30m' or a timedelta,"
        f" got {type(value).__name__}",
        template=template,
    )
