"""``perseus new NAME``: a starter site that builds, serves and tests as it is.

The files are those of ``perseus/starter/``, copied with the project's name put in for
``__project__``; ``gitignore`` becomes ``.gitignore`` (a dot file would be left out of the
wheel by its package-data globs).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import PerseusError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
STARTER = Path(__file__).parent / "starter"
PLACEHOLDER = "__project__"
_RENAMED = {"gitignore": ".gitignore"}


def create_project(parent: Path, name: str) -> Path:
    """Write the project ``name`` under ``parent``; refuses to touch an existing path."""
    if not _NAME.match(name):
        raise PerseusError(f"'{name}' is not a usable project name: use letters, digits, '-', '_' and '.'")
    project = parent / name
    if project.exists():
        raise PerseusError(f"{project} already exists; choose another name or remove it")
    for source in sorted(STARTER.rglob("*")):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(STARTER)
        target = project / relative.parent / _RENAMED.get(relative.name, relative.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8").replace(PLACEHOLDER, name), encoding="utf-8")
    return project
