"""``HeadTags``: fixed HTML in the ``<head>`` of every page (analytics, verification metas)."""

from __future__ import annotations

import re

from ..context import RenderContext
from ..errors import ConfigurationError
from .base import Plugin

# What would end the head early or open the body: the shell around the tags would break.
_BREAKS_HEAD = re.compile(r"</head|<body|</html", re.IGNORECASE)


class HeadTags(Plugin):
    """``HeadTags('<meta name="google-site-verification" content="...">', ...)``.

    Args:
        tags: HTML put in every page's head, in order, as given (not escaped: it is
            the site's own markup).
        error_pages: also in error pages' heads (default True).
        name: the plugin's name; give another to use two ``HeadTags``.
    """

    def __init__(self, *tags: str, error_pages: bool = True, name: str = "head-tags") -> None:
        if not tags:
            raise ConfigurationError("HeadTags needs at least one tag, such as '<meta name=... content=...>'")
        for tag in tags:
            if not isinstance(tag, str) or not tag.strip():
                raise ConfigurationError(f"HeadTags takes HTML strings, got {tag!r}")
            if _BREAKS_HEAD.search(tag):
                raise ConfigurationError(f"HeadTags: {tag!r} would end the <head> early; give head tags only")
        self.name = name
        self.html = "".join(tags)
        self.error_pages = error_pages

    def head(self, ctx: RenderContext) -> str:
        if not ctx.template and not self.error_pages:
            return ""
        return self.html
