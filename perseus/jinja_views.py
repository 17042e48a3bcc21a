"""Views written as Jinja2 templates: ``Template("post", template="post.html")``.

One ``Environment`` per app loads the files of the project's templates directory, with
autoescaping for ``.html``, ``.htm`` and ``.xml`` and every undefined name an error. A page's
body is its template rendered whole, except the ``head`` block, which becomes the page's
``<head>``: a layout holds the navigation, a ``{% block head %}`` and a ``{% block content %}``,
and a page extends it. Each file is compiled once per process: a file and every file it
names literally (extends, include, import) when the app is constructed, so that a missing or
broken one is a ``ConfigurationError`` then; a file named only at render time, the first time
it is used.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import jinja2
from jinja2 import nodes

from perseus_core._escape import escape_html

from .context import ErrorInfo, RenderContext
from .errors import ConfigurationError, PerseusError, TemplateRenderError
from .http.response import error_message

HEAD_BLOCK = "head"
# The statements that name another file; a literal name is checked at construction.
_REFERENCES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


class TemplateFiles:
    """The templates directory of one app and its one Jinja2 environment."""

    def __init__(self, directory: Path, root: Path) -> None:
        directory = directory.resolve()
        self.directory = directory
        self.root = root
        self.shown = _shown(directory, root)
        if not directory.is_dir():
            raise ConfigurationError(
                f"templates_dir '{self.shown}' is not a directory (looked in {directory}); create it"
                " or pass templates_dir= to PerseusApp")
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            # SECURITY: a value is escaped unless marked safe: a forgotten escape() in an
            # f-string is an XSS hole, here it is the default.
            autoescape=jinja2.select_autoescape(("html", "htm", "xml")),
            # NOTE: a typo ({{ state.titel }}) fails the build instead of rendering a blank.
            undefined=jinja2.StrictUndefined,
            # PERF: compiled once per process (watch mode rebuilds in a new process); no
            # stat per render, and no eviction however many files a site has.
            auto_reload=False, cache_size=-1,
        )
        self._checked: set[str] = set()

    def check(self, name: str, user: str, named_at: str = "") -> None:
        """Compile ``name`` and every file it names literally, once.

        Raises:
            ConfigurationError: a file that is missing, outside the directory or that does
                not parse, named with the file and line and ``user`` (who asked for it).
        """
        if name in self._checked:
            return
        try:
            template = self.environment.get_template(name)
        except jinja2.TemplateNotFound:
            raise ConfigurationError(f"{user}: {named_at}template file '{name}' not found in"
                                     f" {self.shown}/ (looked in {self.directory})") from None
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigurationError(f"{user}: {self._where(exc)}: {exc.message}") from None
        self._checked.add(name)
        assert self.environment.loader is not None and template.filename is not None
        source = self.environment.loader.get_source(self.environment, name)[0]
        shown = _shown(Path(template.filename), self.root)
        for node in self.environment.parse(source, name, template.filename).find_all(_REFERENCES):
            named = getattr(node, "template", None)
            if getattr(node, "ignore_missing", False) or not isinstance(named, nodes.Const):
                continue  # a name computed at render time: checked when used
            if isinstance(named.value, str):
                self.check(named.value, user, f"{shown}, line {node.lineno}: ")

    def render(self, name: str, variables: dict[str, Any]) -> tuple[str, str]:
        """The body of file ``name`` without its head block, and that block (``""`` without one).

        Raises:
            TemplateRenderError: the template failed; the message names the file and line.
        """
        captured: list[str] = []

        def capture_head(context: jinja2.runtime.Context) -> Iterator[str]:
            # Rendered where the layout puts it, with the blocks that override it (super()
            # works), but kept out of the body.
            captured.append("".join(context.blocks[HEAD_BLOCK][1](context)))
            return iter(())

        try:
            try:
                template = self.environment.get_template(name)
                context = template.new_context(variables)
                context.blocks[HEAD_BLOCK] = [capture_head, *context.blocks.get(HEAD_BLOCK, [])]
                body = "".join(template.root_render_func(context))
                blocks = context.blocks[HEAD_BLOCK]
                if not captured and len(blocks) > 1:  # a head block the layout does not place
                    captured.append("".join(blocks[1](context)))
            except Exception:
                self.environment.handle_exception()  # the traceback in template lines
        except PerseusError:
            raise  # t() or static() failing: already names what is wrong
        except Exception as exc:
            raise self.located(exc) from exc
        # NOTE: the whitespace around blocks ({% block head %}...{% endblock %}\n) is no content.
        return body.strip(), captured[-1].strip() if captured else ""

    def render_whole(self, name: str, variables: dict[str, Any]) -> str:
        """File ``name`` rendered whole (a head template)."""
        try:
            return self.environment.get_template(name).render(variables)
        except PerseusError:
            raise
        except Exception as exc:
            raise self.located(exc) from exc

    def located(self, exc: BaseException) -> TemplateRenderError:
        """``exc``, raised while rendering, as an error naming the template file and line."""
        if isinstance(exc, jinja2.TemplateNotFound):
            message = f"template file '{exc.name}' not found in {self.shown}/"
        elif isinstance(exc, jinja2.TemplateSyntaxError):
            message = exc.message or str(exc)
        elif isinstance(exc, jinja2.TemplateError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        file, line = self._location(exc)
        if file is None:
            return TemplateRenderError(message)
        return TemplateRenderError(f"{_shown(file, self.root)}, line {line}: {message}", file=file, line=line)

    def _where(self, exc: BaseException) -> str:
        """``templates/post.html, line 3``: where ``exc`` was raised."""
        file, line = self._location(exc)
        return f"{_shown(file, self.root)}, line {line}" if file is not None else self.shown

    def _location(self, exc: BaseException) -> tuple[Path | None, int | None]:
        """The file and line of the innermost template frame of ``exc``."""
        if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
            return Path(exc.filename), exc.lineno
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = Path(frame.filename)
            if path.is_relative_to(self.directory):
                return path, frame.lineno
        return None, None


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def page_variables(ctx: RenderContext, state: Any) -> dict[str, Any]:
    """What a template sees. NOTE: t, link and static are the page's own ctx methods (the
    build records ctx.link calls to check links)."""
    return {"state": state, "ctx": ctx, "t": ctx.t, "link": ctx.link, "static": ctx.static,
            "global_state": ctx.global_state}


class _Handoff(threading.local):
    """The head block of the page this thread rendered last, until its head is asked for."""

    page: tuple[RenderContext, Any, str] | None = None


_handoff = _Handoff()


class TemplateView:
    """``view(ctx, state)`` rendering a template file; bound to its app's files by the app."""

    def __init__(self, file: str, user: str) -> None:
        self.file = file
        self.user = user
        self.files: TemplateFiles | None = None
        self.gives_head = False  # whether its head block is the page's head (handed to .head)

    def bind(self, files: TemplateFiles) -> None:
        if self.files is not None and self.files.directory != files.directory:
            raise ConfigurationError(f"{self.user} is used by two apps with different templates_dir;"
                                     " make one Template per app")
        files.check(self.file, self.user)
        self.files = files

    def _files(self) -> TemplateFiles:
        if self.files is None:
            raise ConfigurationError(f"{self.user} renders '{self.file}' but belongs to no PerseusApp")
        return self.files

    def __call__(self, ctx: RenderContext, state: Any) -> str:
        body, head = self._files().render(self.file, page_variables(ctx, state))
        if self.gives_head:  # PERF: one render gives both; the page's head is asked for next
            _handoff.page = (ctx, state, head)
        return body

    def head(self, ctx: RenderContext, state: Any) -> str:
        """The page's head block, from the render just done when it was this page's."""
        page, _handoff.page = _handoff.page, None
        if page is not None and page[0] is ctx and page[1] is state:
            return page[2]
        return self._files().render(self.file, page_variables(ctx, state))[1]


class HeadTemplate(TemplateView):
    """``head(ctx, state)`` rendering a whole file as the page's head (``head_template=``)."""

    def __call__(self, ctx: RenderContext, state: Any) -> str:
        return self._files().render_whole(self.file, page_variables(ctx, state))


class ErrorTemplateView(TemplateView):
    """``view(ctx, error)`` of an error page: the template sees ``error`` (and ``ctx``...)."""

    def __call__(self, ctx: RenderContext, state: Any) -> str:
        body, head = self._files().render(self.file, {**page_variables(ctx, None), "error": state})
        if self.gives_head:
            _handoff.page = (ctx, state, head)
        return body


def template_views(name: str, template: str | None, head_template: str | None,
                   view: Callable[..., str] | None, head: Callable[..., str] | None,
                   ) -> tuple[Callable[..., str] | None, Callable[..., str] | None]:
    """A ``Template``'s view and head for ``template=`` and ``head_template=``."""
    user = f"template '{name}'"
    if template is not None and view is not None:
        raise ConfigurationError(f"{user}: pass template= (a file of templates/) or view= (a function),"
                                 " not both", template=name)
    if head_template is not None and head is not None:
        raise ConfigurationError(f"{user}: pass head_template= or head=, not both", template=name)
    if template is not None:
        view = TemplateView(_file_name(user, "template", template), user)
        if head is None and head_template is None:
            view.gives_head = True
            head = view.head
    if head_template is not None:
        head = HeadTemplate(_file_name(user, "head_template", head_template), user)
    return view, head


def bind_template_files(directory: Path, root: Path, views: list[Callable[..., Any] | None],
                        error_views: Mapping[int, Any], error_head: Callable[..., str] | None,
                        ) -> tuple[dict[int, Any], Callable[..., str] | None]:
    """Bind every template view to the app's files; error views given as file names made views.

    Returns the error views and the error head: without one given, an error template's
    head block is the head of its page.
    """
    made: dict[int, Any] = {}
    for status, view in error_views.items():
        if isinstance(view, str):
            if not _is_file_name(view):
                raise ConfigurationError(f"error view for {status} must be a function, or the name of a file"
                                         f" of templates/ such as '404.html', got {view!r}")
            view = ErrorTemplateView(view, f"error view {status}")
        made[status] = view
    files = TemplateFiles(directory, root)
    for view in [*views, *made.values()]:
        owner = getattr(view, "__self__", view)  # a TemplateView's bound head
        if isinstance(owner, TemplateView):
            owner.bind(files)
    template_views = [view for view in made.values() if isinstance(view, ErrorTemplateView)]
    if error_head is None and template_views:
        for view in template_views:
            view.gives_head = True
        error_head = _error_template_head(made)
    return made, error_head


def _error_template_head(views: Mapping[int, Any]) -> Callable[[RenderContext, ErrorInfo], str]:
    def error_head(ctx: RenderContext, error: ErrorInfo) -> str:
        view = views.get(error.status)
        head = view.head(ctx, error) if isinstance(view, ErrorTemplateView) else ""
        if "<title" in head.lower():
            return head
        # NOTE: an error page always has a title; as the built-in one: the status and its reason.
        return f"<title>{escape_html(f'{error.status} {error_message(error.status)}')}</title>{head}"
    return error_head


def _file_name(user: str, field: str, value: object) -> str:
    if not _is_file_name(value):
        raise ConfigurationError(f"{user}: {field} must be a file name inside templates/ such as"
                                 f" 'post.html', got {value!r}")
    return value


def _is_file_name(value: object) -> TypeGuard[str]:
    """A relative path below templates/: no empty, '.' or '..' segment, backslash, quote,
    markup or space (an HTML string given where a file name belongs is told so)."""
    return (isinstance(value, str) and not any(c in "\\<>\"'" or c.isspace() for c in value)
            and all(part not in ("", ".", "..") for part in value.split("/")))
