"""The install-time switches: PERSEUS_NO_COMPILE and PERSEUS_REQUIRE_COMPILED (slow: real wheel builds)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

UV = shutil.which("uv")
SOURCES = ("setup.py", "pyproject.toml", "README.md", "perseus", "perseus_core")


def build_wheel(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``uv build --wheel`` of a clean copy of the project (the worktree stays untouched)."""
    if UV is None:
        pytest.fail("uv is needed to build wheels (pip install uv)")
    project = tmp_path / "project"
    project.mkdir()
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            skip = shutil.ignore_patterns("*.so", "*.c", "__pycache__")
            shutil.copytree(source, project / name, ignore=skip)
        else:
            shutil.copy(source, project / name)
    return subprocess.run([UV, "build", "--wheel", "--out-dir", str(tmp_path / "wheels"), str(project)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})


@pytest.mark.timeout(300)
def test_no_compile_builds_a_pure_wheel_with_every_twin(tmp_path: Path) -> None:
    result = build_wheel(tmp_path, {"PERSEUS_NO_COMPILE": "1"})
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if name.endswith((".so", ".c"))]
    for twin in ("_escape_py", "_paths_py", "_routing_py", "_shell_py"):
        assert f"perseus_core/{twin}.py" in names
    assert "perseus_core/_routing_c.pyi" in names and "perseus_core/py.typed" in names
    assert "perseus/py.typed" in names


@pytest.mark.timeout(300)
def test_require_compiled_fails_the_install_when_it_cannot_compile(tmp_path: Path) -> None:
    result = build_wheel(tmp_path, {"PERSEUS_REQUIRE_COMPILED": "1", "CC": "/nonexistent/cc"})
    assert result.returncode != 0
    assert "compiled core required but no C compiler was found" in result.stderr
    assert not list((tmp_path / "wheels").glob("*.whl"))
