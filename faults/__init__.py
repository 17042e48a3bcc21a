"""Fault scenarios of issue 10 (``nox -s faults``): real granian, LMDB and Redis, broken on purpose.

Importing this package makes the repository's ``tests`` and ``bench`` packages importable by
name, for the fixtures and helpers they already have.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _import_package(name: str) -> None:
    """Import the repository's package ``name`` from its directory.

    NOTE: putting the repository root on sys.path instead would shadow the installed perseus
    with its source tree, whose kernels are not compiled.
    """
    if name in sys.modules:
        return
    init = REPO / name / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_import_package("tests")
_import_package("bench")
