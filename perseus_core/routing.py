"""Route matching over the render configuration.

``Router(pages, incremental, locales=())`` matches a decoded request path in one
pass (``resolve``): the exact page first, else the most specific incremental
template whose root is a prefix of the path, else nothing; with locales, the first
segment must be one of them. Selects the Cython kernel ``_routing_c``, or its pure
twin ``_routing_py`` when it is absent or disabled.
"""

from __future__ import annotations

from . import use_compiled

# Router is replaced below by the compiled twin's.
from ._routing_py import INCREMENTAL, NO_LOCALE, NOT_FOUND, PAGE, Router
from .errors import BadPath
from .paths import normalize_path

__all__ = ["COMPILED", "INCREMENTAL", "NOT_FOUND", "NO_LOCALE", "PAGE", "BadPath", "Router",
           "normalize_path"]
COMPILED = use_compiled(globals(), "routing", ["Router"])
