"""Compiled, sans-IO kernels of perseus: no files, sockets, await or clock.

Cython kernels (``_escape_c``) sit beside a pure twin (``_escape_py``) and a
selector (``_escape``); mypyc modules (``routing``) are their own fallback.
``PERSEUS_NO_EXTENSIONS=1`` forces every kernel to its pure-Python source.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

# Modules compiled by mypyc: the .py beside the .so is the fallback.
MYPYC_MODULES = ("routing", "locales")
# Cython kernels: name -> the module its selector loads when compiled.
CYTHON_KERNELS = {"escape": "_escape_c"}


def extensions_disabled() -> bool:
    """True when PERSEUS_NO_EXTENSIONS asks for the pure-Python build."""
    return os.environ.get("PERSEUS_NO_EXTENSIONS", "").strip().lower() not in ("", "0", "false", "no")


def _load_mypyc_sources() -> None:
    # An extension module wins over a .py of the same name, so load the source
    # explicitly and register it before anything imports the compiled one.
    here = os.path.dirname(__file__)
    for name in MYPYC_MODULES:
        qualified = f"{__name__}.{name}"
        if qualified in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(qualified, os.path.join(here, f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)


if extensions_disabled():
    _load_mypyc_sources()


def _is_extension(module: object) -> bool:
    path = getattr(module, "__file__", "") or ""
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def implementation() -> dict[str, str]:
    """Which build of each kernel is loaded: ``cython``, ``mypyc`` or ``python``."""
    from . import _escape, locales, routing

    loaded = {"escape": "cython" if _escape.COMPILED else "python"}
    loaded["routing"] = "mypyc" if _is_extension(routing) else "python"
    loaded["locales"] = "mypyc" if _is_extension(locales) else "python"
    return loaded
