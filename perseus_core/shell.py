"""Page assembly: the HTML shell split once, then joined with each page's parts.

Selects the compiled ``Shell`` (``_shell_c``), or its pure twin when it is absent
or disabled; the constants and ``ShellError`` live in the twin.
"""

from __future__ import annotations

from . import use_compiled

# Shell is replaced below by the compiled twin's.
from ._shell_py import DEFAULT_DOCUMENT, HEAD_BOUNDARY, HEAD_END, ROOT_OPEN, Shell, ShellError

__all__ = ["COMPILED", "DEFAULT_DOCUMENT", "HEAD_BOUNDARY", "HEAD_END", "ROOT_OPEN", "Shell", "ShellError"]
COMPILED = use_compiled(globals(), "shell", ["Shell"])
