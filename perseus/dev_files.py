"""What the processes of one ``perseus serve --watch`` session tell each other, in files
beside ``dist/``: the last failed build's overlay, and the site's inputs (what to watch).

The build process writes both (it is the one that imports the app and sees its
failures); the server pushes the failure to open pages and the watch loop reads the
inputs. Nothing here exists outside watch mode.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from .dev_overlay import build_overlay, section

if TYPE_CHECKING:
    from .app import PerseusApp

# NOTE: ".<dist>.dev-" siblings are ignored by the watch filter like the build's own.
DEV_PREFIX = "dev-"


def failure_path(dist: Path) -> Path:
    """The overlay HTML of the last build, while it failed; absent after a good build."""
    return dist.parent / f".{dist.name}.{DEV_PREFIX}failure.html"


def inputs_path(dist: Path) -> Path:
    return dist.parent / f".{dist.name}.{DEV_PREFIX}inputs.json"


def write_failure(dist: Path, failures: Sequence[tuple[str, BaseException]]) -> None:
    """Record a failed build: what failed (``template 'post', path 'a': render``) and why."""
    _write(failure_path(dist), build_overlay([section(what, error) for what, error in failures]).encode())


def clear_failure(dist: Path) -> None:
    failure_path(dist).unlink(missing_ok=True)


def remove_all(dist: Path) -> None:
    """At the end of a session: leave nothing of it beside ``dist``."""
    for path in (failure_path(dist), inputs_path(dist)):
        path.unlink(missing_ok=True)


def read_failure(dist: Path, known: int | None = None) -> tuple[int, str] | None:
    """``(stamp, overlay)`` of the last build's failure (a new stamp for each), or None when
    there is none or its stamp is ``known`` (PERF: a stat, read only when it changed)."""
    path = failure_path(dist)
    try:
        stamp = path.stat().st_mtime_ns
        return None if stamp == known else (stamp, path.read_text())
    except OSError:
        return None


def write_inputs(app: PerseusApp, dist: Path) -> None:
    """Record the directories and files besides Python modules that the site is made of."""
    directories = [app.translations_dir, app.root / "templates"]
    if app.static_dir is not None:
        directories.append(app.static_dir)
    files = [app.root / target for target in app.static_aliases.values()]
    _write(inputs_path(dist), orjson.dumps({"directories": [str(d) for d in directories],
                                            "files": [str(f) for f in files]}))


def read_inputs(dist: Path) -> tuple[list[Path], list[Path]] | None:
    """The directories and files of ``write_inputs``, or None before a build recorded them."""
    try:
        recorded = orjson.loads(inputs_path(dist).read_bytes())
        return [Path(d) for d in recorded["directories"]], [Path(f) for f in recorded["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, data: bytes) -> None:
    # Whole or not at all: the server may read it at any moment.
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
