"""What user functions receive: ``StateInfo`` for state functions, ``RenderContext`` for views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

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
    """

    locale: str
    path: str
    template: str
    global_state: Any = None
    base_path: str = ""

    def link(self, path: str) -> str:
        """An absolute URL path for a page of this site: ``ctx.link("about")`` -> ``/about``.

        Characters that cannot appear in a URL (space, quotes, ``<``, ``>``, non-ASCII...)
        are percent-encoded, so the result is safe in a quoted HTML attribute even when
        ``path`` comes from a CMS; ``?``, ``#`` and existing escapes are kept.
        """
        # SECURITY: a slug holding '"' or '<' cannot break out of href="...".
        return f"{self.base_path}/{quote(path.lstrip('/'), safe=_URL_SAFE)}"


@dataclass(frozen=True)
class ErrorInfo:
    """Given to error views as their state: the status and a short, safe message."""

    status: int
    message: str
