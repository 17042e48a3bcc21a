"""Which build of the compiled core the suite runs against, and the switches that choose it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import perseus_core
from tests.conftest import REPO


def test_suite_runs_against_the_installed_build_not_the_source_tree() -> None:
    # The repository's perseus_core/ has no compiled modules: importing it would
    # silently run everything pure.
    assert not perseus_core.__file__.startswith(str(REPO / "perseus_core"))


def test_the_expected_implementation_is_loaded() -> None:
    expected = os.environ.get("PERSEUS_EXPECT_IMPL")
    if not expected:
        pytest.skip("nox sets PERSEUS_EXPECT_IMPL to the build it installed")
    loaded = perseus_core.implementation()
    if expected == "compiled":
        assert all(impl in ("cython", "mypyc") for impl in loaded.values()), loaded
    else:
        assert set(loaded.values()) == {"python"}, loaded


def test_no_extensions_forces_the_pure_build_at_run_time() -> None:
    code = "import perseus_core, json; print(json.dumps(perseus_core.implementation()))"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PERSEUS_NO_EXTENSIONS": "1"}).stdout
    assert set(__import__("json").loads(out).values()) == {"python"}


def test_version_says_which_build_is_loaded() -> None:
    out = subprocess.run([sys.executable, "-P", "-m", "perseus", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("perseus ")
    for kernel, impl in perseus_core.implementation().items():
        assert f"{kernel}: {impl}" in out
