"""Compiled, sans-IO kernels of perseus: no files, sockets, await or clock.

Cython kernels (``_paths_c``) sit beside a pure twin (``_paths_py``) and a
selector (``paths``, through ``use_compiled``): escape, paths, routing, shell.
mypyc modules (listed in ``MYPYC_MODULES``) are their own fallback.
``PERSEUS_NO_EXTENSIONS=1`` forces every kernel to its pure-Python source.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterable

# Modules compiled by mypyc: the .py beside the .so is the fallback.
MYPYC_MODULES: tuple[str, ...] = ("locales", "plan", "durations")
# Cython kernels: name -> its selector module (which has COMPILED).
CYTHON_KERNELS = {"escape": "_escape", "paths": "paths", "routing": "routing", "shell": "shell"}


def extensions_disabled() -> bool:
    """True when PERSEUS_NO_EXTENSIONS asks for the pure-Python build."""
    return os.environ.get("PERSEUS_NO_EXTENSIONS", "").strip().lower() not in ("", "0", "false", "no")


def use_compiled(namespace: dict[str, object], kernel: str, names: Iterable[str]) -> bool:
    """Replace a selector's pure names with those of the Cython twin ``_<kernel>_c``.

    A selector imports ``names`` from its pure twin (which also gives mypy their
    types), then calls this; nothing changes when extensions are disabled or the
    build is pure. Returns whether the compiled twin is now in use.
    """
    if extensions_disabled():
        return False
    try:
        compiled = importlib.import_module(f"{__name__}._{kernel}_c")
    except ImportError:  # the pure build: no compiler at install, or PERSEUS_NO_COMPILE
        return False
    namespace.update({name: getattr(compiled, name) for name in names if hasattr(compiled, name)})
    return True


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
    loaded = {}
    for kernel, selector in CYTHON_KERNELS.items():
        compiled = importlib.import_module(f"{__name__}.{selector}").COMPILED
        loaded[kernel] = "cython" if compiled else "python"
    for name in MYPYC_MODULES:
        loaded[name] = "mypyc" if _is_extension(importlib.import_module(f"{__name__}.{name}")) else "python"
    return loaded
