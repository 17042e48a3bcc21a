"""Selects the compiled escaping kernel, or its pure twin when it is absent or disabled."""

from __future__ import annotations

from . import use_compiled
from ._escape_py import escape_html, escape_script_json  # replaced below by the compiled twin's

__all__ = ["COMPILED", "escape_html", "escape_script_json"]
COMPILED = use_compiled(globals(), "escape", __all__)
