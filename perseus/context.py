"""What user functions receive: ``StateInfo`` for state functions, ``RenderContext`` for views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .errors import ConfigurationError
from .http.urls import STATIC_PREFIX
from .i18n.locales import NO_LOCALE
from .i18n.translators import NoTranslator, Translator

# Characters kept as they are by ``RenderContext.link``: URL delimiters and escapes.
_URL_SAFE = "/?#&=;:@!$()*+,~%[]"


@dataclass(frozen=True)
class StateInfo:
    """Given to state functions.

    Attributes:
        path: the page's path below its template (``""`` for the template's root).
        locale: the page's locale (``"xx-XX"`` without i18n).
        extra: the helper state the template's ``build_paths`` returned, as given.
    """

    path: str
    locale: str
    extra: Any = None


@dataclass(frozen=True)
class RenderContext:
    """Given to views, heads, ``set_headers`` and error views.

    Attributes:
        locale: the page's locale (``"xx-XX"`` without i18n).
        path: the page's full path without locale, ``""`` for the site root.
        template: the template's name (``""`` for an error page).
        global_state: the app's global state, ``None`` without one.
        base_path: the URL prefix the site is served under (``PERSEUS_BASE_PATH``).
        translator: the locale's translations, used by ``t``.
        static_files: each file of the static directory by its hashed name, used by ``static``.
        link_log: at build time, the list every ``link`` is recorded in (template, path,
            locale, URL) for the build's link check; None at request time.
    """

    locale: str
    path: str
    template: str
    global_state: Any = None
    base_path: str = ""
    translator: Translator = field(default_factory=NoTranslator, repr=False)
    static_files: Mapping[str, str] = field(default_factory=dict, repr=False)
    link_log: list[tuple[str, str, str, str]] | None = field(default=None, repr=False, compare=False)

    def t(self, message_id: str, **args: Any) -> str:
        """The text of translation ``message_id`` in this page's locale, with ``args`` put in.

        The result is plain text: escape it before putting it into HTML.

        Raises:
            TranslationError: the id is missing in this locale or an argument is missing;
                at build time this fails the build, naming the id and the locale.
        """
        return self.translator.translate(message_id, args)

    def link(self, path: str) -> str:
        """An absolute URL path for a page of this site, with base path and locale.

        ``ctx.link("about")`` is ``/about`` without i18n and ``/fr-FR/about`` in French;
        ``ctx.link("")`` is the locale's home page. Characters that cannot appear in a
        URL (space, quotes, ``<``, ``>``, non-ASCII...) are percent-encoded, so the
        result is safe in a quoted HTML attribute even when ``path`` comes from a CMS;
        ``?``, ``#`` and existing escapes are kept.
        """
        # SECURITY: a slug holding '"' or '<' cannot break out of href="...".
        path = quote(path.lstrip("/"), safe=_URL_SAFE)
        if self.locale == NO_LOCALE:
            url = f"{self.base_path}/{path}"
        else:
            url = f"{self.base_path}/{self.locale}/{path}" if path else f"{self.base_path}/{self.locale}"
        if self.link_log is not None:  # the build checks every link once all pages are rendered
            self.link_log.append((self.template, self.path, self.locale, url))
        return url


    def static(self, file: str) -> str:
        """The fingerprinted URL of ``file`` of the static directory, with the base path.

        ``ctx.static("style.css")`` is ``/.perseus/static/style.3f2a9c1e.css``: the hash is
        of the file's content at build time, so the URL is cached for ever and a new version
        is a new URL.

        Raises:
            ConfigurationError: no such file in the static directory when the site was
                built; at build time this fails the build, naming the page and the file.
        """
        relative = file.lstrip("/")
        hashed = self.static_files.get(relative)
        if hashed is None:
            raise ConfigurationError(f"ctx.static({file!r}): the static directory had no file {relative!r}"
                                     " when the site was built; add it (or set static_dir) and rebuild")
        return hashed_url(self.base_path, hashed)


def hashed_url(base_path: str, hashed: str) -> str:
    """The URL of the static directory's file at fingerprinted name ``hashed``."""
    return f"{base_path}{STATIC_PREFIX}{quote(hashed, safe='/')}"


@dataclass(frozen=True)
class ErrorInfo:
    """Given to error views as their state: the status and a short, safe message."""

    status: int
    message: str
