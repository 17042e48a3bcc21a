"""Request paths: ``normalize_path(path)`` turns ``/post//a/`` into ``post/a`` (``BadPath``
for control characters and U+FFFD). Paths arrive decoded (``perseus.http.urls.decode_target``
decodes them for the adapters that get raw bytes).

Selects the Cython kernel ``_paths_c``, or its pure twin ``_paths_py`` when it is
absent or disabled.
"""

from __future__ import annotations

from . import use_compiled
from ._paths_py import normalize_path  # replaced below by the compiled twin's
from .errors import BadPath

__all__ = ["COMPILED", "BadPath", "normalize_path"]
# NOTE: store keys are spelled in one place, perseus.stores.records.page_key.
COMPILED = use_compiled(globals(), "paths", __all__)
