"""``Template``: one kind of page, its view and the strategies that give it state."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

View = Callable[[Any, Any], str]
HeadersFunction = Callable[[Any, Any], Mapping[str, str]]

# perseus's own routes live below /.perseus/: no page may be built there.
RESERVED_SEGMENT = ".perseus"


def is_reserved(page_path: str) -> bool:
    """Whether a page path (no leading slash) would be shadowed by perseus's own routes."""
    return page_path.split("/", 1)[0] == RESERVED_SEGMENT


# Template names become URL roots: lower-case path segments, '/' allowed inside.
_NAME = re.compile(r"^[A-Za-z0-9_\-.~]+(/[A-Za-z0-9_\-.~]+)*$")


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
        view: ``view(ctx, state) -> str``, the page body as HTML text.
        head: ``head(ctx, state) -> str``, HTML put into ``<head>`` (title, meta).
        set_headers: ``set_headers(ctx, state) -> Mapping[str, str]``, extra response
            headers for the page's HTML; they override perseus's defaults by name.
        build_paths: ``build_paths() -> BuildPaths | list[str]``, sync or async.
        build_state: ``build_state(info) -> state``, sync or async, run at build time
            once per path and locale.
    """

    def __init__(
        self,
        name: str,
        *,
        view: View | None = None,
        head: View | None = None,
        set_headers: HeadersFunction | None = None,
        build_paths: Callable[[], Any] | None = None,
        build_state: Callable[[Any], Any] | None = None,
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
        _require_callable(name, "view", view, required=True)
        for field, value in (
            ("head", head),
            ("set_headers", set_headers),
            ("build_paths", build_paths),
            ("build_state", build_state),
        ):
            _require_callable(name, field, value, required=False)
        assert view is not None  # checked above; for mypy
        self.name = name
        self.view: View = view
        self.head = head
        self.set_headers = set_headers
        self.build_paths = build_paths
        self.build_state = build_state

    @property
    def root(self) -> str:
        """The URL path of the template's root page, without slashes (``""`` for index)."""
        return "" if self.name == "index" else self.name

    @property
    def has_state(self) -> bool:
        return self.build_state is not None

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
