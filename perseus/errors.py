"""The one error tree of perseus, and the one mapping from errors to HTTP statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .http.location import DEFAULT_REDIRECT, check_redirect_status, check_target
from .http.response import error_message


class PerseusError(Exception):
    """Base of every error perseus raises on purpose."""


class ConfigurationError(PerseusError):
    """The app is misconfigured; raised when it is constructed, never on a request."""

    def __init__(self, message: str, *, template: str | None = None) -> None:
        super().__init__(message)
        self.template = template


class BuildError(PerseusError):
    """One or more pages failed to build; ``failures`` lists every one of them."""

    def __init__(self, failures: list[PageFailure]) -> None:
        self.failures = failures
        lines = [f"{len(failures)} page(s) failed to build:"]
        lines += [f"  - {failure}" for failure in failures]
        super().__init__("\n".join(lines))


class BuildTimeout(PerseusError):
    """A build-time state or paths function ran past ``PERSEUS_BUILD_TIMEOUT``."""


class PageFailure:
    """Where a build failed (template, path, locale, stage) and the exception it raised."""

    def __init__(
        self, template: str, path: str | None, locale: str, stage: str, error: BaseException
    ) -> None:
        self.template = template
        self.path = path
        self.locale = locale
        self.stage = stage
        self.error = error

    def page(self) -> str:
        """``template 'post', path 'a'`` (and the locale, with i18n): what failed."""
        where = f"template '{self.template}'"
        if self.path is not None:
            where += f", path '{self.path}'"
        if self.locale != "xx-XX":
            where += f", locale {self.locale}"
        return where

    def headline(self) -> str:
        """``template 'post', path 'a': render raised TypeError: ...``."""
        return f"{self.page()}: {self.stage} raised {type(self.error).__name__}: {self.error}"

    def __str__(self) -> str:
        from .tracebacks import user_frame

        frame = user_frame(self.error)
        return self.headline() if frame is None else f"{self.headline()} (at {frame.where()})"


class TranslationError(PerseusError):
    """A translation that cannot be given: missing file or id, bad syntax, missing argument.

    Raised while building, so a site never ships a page with a blank where text belongs.
    """

    def __init__(self, message: str, *, message_id: str | None, locale: str) -> None:
        super().__init__(message)
        self.message_id = message_id
        self.locale = locale


class TemplateRenderError(PerseusError):
    """A Jinja2 template failed while rendering a page: the message starts with the file
    and line (``templates/post.html, line 3: 'dict object' has no attribute 'titel'``).

    At build time it fails the build, naming the page; at request time it is the logged
    reason of the 500. ``file`` (absolute) and ``line`` say where, when known.
    """

    def __init__(self, message: str, *, file: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line


class StateEncodingError(PerseusError):
    """A state value that JSON cannot represent faithfully (NaN, a lone surrogate, ...)."""


class DistError(PerseusError):
    """``dist/`` is missing, from another version, or damaged; run ``perseus build``."""


class ExportError(PerseusError):
    """The site cannot be exported to static files (a strategy needs a server, or a path clash)."""


class DeployError(PerseusError):
    """``perseus deploy`` could not write ``pkg/``: an unsupported target, pip failing, ..."""


class StoreError(PerseusError):
    """The mutable store cannot be opened or written (read-only location, full disk...)."""


class Overloaded(PerseusError):
    """Every thread for sync user code is busy and its queue is full: answered 503 at once,
    with ``Retry-After``, rather than queued without bound."""


class StoreNotFound(StoreError):
    """A key the mutable store does not hold; the only error a missing key gives."""


class StaleServerError(PerseusError):
    """``perseus.revalidate`` found a running server of another build than ``dist``'s (one
    started before a rebuild), which its marks would never reach; nothing was marked."""

    def __init__(self, message: str, *, dist_build: str, server_builds: list[str]) -> None:
        super().__init__(message)
        self.dist_build = dist_build
        self.server_builds = server_builds


class RevalidateError(PerseusError):
    """``perseus.revalidate`` was asked for pages it cannot mark; ``skipped`` says why, per URL.

    The other pages asked for were marked all the same.
    """

    def __init__(self, skipped: list[tuple[str, str]]) -> None:
        self.skipped = skipped
        lines = [f"{len(skipped)} page(s) cannot be revalidated:"]
        lines += [f"  - {url}: {reason}" for url, reason in skipped]
        super().__init__("\n".join(lines))


class TagError(PerseusError, ValueError):
    """A state function tagged its page with something that is not a valid tag
    (``perseus.State(value, tags=[...])``), or a tag asked for is not one."""


class AppImportError(PerseusError):
    """The app's module raised while it was imported (a SyntaxError, an ImportError, ...)."""


class AppNotFound(PerseusError):
    """The CLI could not import the app it was pointed at."""


class NotFound(PerseusError):
    """Raise from a state function to answer 404 for that path (nothing is stored)."""

    def __init__(self, message: str = "page not found") -> None:
        super().__init__(message)


class Redirect(PerseusError):
    """Raise from a state function to send the visitor to ``target`` instead.

    ``target`` is a path of this site starting with one ``/`` (``"/new"``,
    ``f"/{info.locale}/new?x=1"``); the base path is put in front, nothing else. With
    ``external=True`` it is an absolute ``http(s)`` URL instead. ``status`` is 301, 302,
    303, 307 (the default: not remembered, keeps the method) or 308.

    Raised at build time (``build_state``), the page is built as a redirect; at request
    time the answer is the redirect and nothing is stored.

    Raises:
        perseus.http.location.BadRedirect: (a ``ValueError``) a target or status that is
            not allowed, such as ``"//evil.com"``: raised where the ``Redirect`` is made.
    """

    def __init__(self, target: str, status: int = DEFAULT_REDIRECT, *, external: bool = False) -> None:
        self.location = check_target(target, external)
        self.status = check_redirect_status(status)
        self.external = bool(external)
        super().__init__(f"redirect {self.status} to {self.location}")

    def __reduce__(self) -> tuple[Any, ...]:
        # NOTE: made again from its fields (a spelled target spells as itself), not from its text.
        return (_remake, (Redirect, self.location, self.status, self.external))


class HTTPError(PerseusError):
    """Raise from a state function to answer ``status`` (any 4xx or 5xx) through the error view.

    ``message``, when given, is what the error view gets as ``error.message`` (else the
    status's own message, such as "gone"); the built-in error page and the JSON answer
    show only the status's own message. Nothing is stored.
    """

    def __init__(self, status: int, message: str | None = None) -> None:
        if type(status) is not int or not 400 <= status <= 599:
            raise ValueError(f"HTTPError takes a 4xx or 5xx status, got {status!r}")
        if message is not None and not isinstance(message, str):
            raise ValueError(f"HTTPError's message is a string, got {message!r}")
        self.status = status
        self.message = message
        super().__init__(f"{status} {error_message(status)}" + (f": {message}" if message else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        return (HTTPError, (self.status, self.message))


def _remake(kind: type[Redirect], location: str, status: int, external: bool) -> Redirect:
    return kind(location, status, external=external)


def status_for(error: BaseException) -> int:
    """The HTTP status an exception raised while answering a request maps to."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, HTTPError):
        return error.status
    if isinstance(error, Overloaded):
        return 503
    if isinstance(error, TimeoutError):  # user code past PERSEUS_REQUEST_TIMEOUT (or its upstream)
        return 504
    return 500
