"""The site icon every page links in its shell: the static directory's favicon, or none at all.

NOTE: without an icon link a browser asks for ``/favicon.ico`` on its own, and a site
without one answers 404, which Chromium logs as a console error (Lighthouse's best
practices fault it). ``href="data:,"`` tells the browser there is no icon: no request,
no 404, and it holds in a static export too, where no server could answer for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from perseus_core._escape import escape_html

from ..http.urls import STATIC_PREFIX

# In order of preference: an SVG is sharp at every size, a PNG next, the legacy ICO last.
ICON_FILES = {"favicon.svg": "image/svg+xml", "favicon.png": "image/png", "favicon.ico": "image/x-icon"}
NO_ICON = '<link rel="icon" href="data:,">'
# A custom shell that links an icon of its own keeps it alone.
_HAS_ICON = re.compile(r"""<link\b[^>]*\brel\s*=\s*["']?(shortcut\s+)?icon\b""", re.IGNORECASE)


def icon_link(static_files: Mapping[str, str], base_path: str) -> str:
    """The ``<link rel="icon">`` of the site: its fingerprinted favicon, else ``data:,``."""
    for name, media_type in ICON_FILES.items():
        hashed = static_files.get(name)
        if hashed is not None:
            href = escape_html(f"{base_path}{STATIC_PREFIX}{quote(hashed, safe='/')}")
            return f'<link rel="icon" href="{href}" type="{media_type}">'
    return NO_ICON


def with_icon(document: str, link: str) -> str:
    """``document`` with ``link`` put at the end of its head, unless it links an icon already."""
    head_end = document.find("</head>")
    if head_end < 0 or _HAS_ICON.search(document, 0, head_end):
        return document
    return document[:head_end] + link + document[head_end:]
