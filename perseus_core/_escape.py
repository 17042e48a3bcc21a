"""Selects the compiled escaping kernel, or its pure twin when it is absent or disabled."""

from __future__ import annotations

from . import extensions_disabled

COMPILED = False
if not extensions_disabled():
    try:
        from ._escape_c import escape_html, escape_script_json

        COMPILED = True
    except ImportError:  # the pure build: no compiler at install, or PERSEUS_NO_COMPILE
        pass
if not COMPILED:
    from ._escape_py import escape_html, escape_script_json

__all__ = ["COMPILED", "escape_html", "escape_script_json"]
