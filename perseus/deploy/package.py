"""The layout of ``pkg/`` as ``perseus deploy`` writes it. All of it is here.

    pkg/server            executable: installs from wheels/ (no network), then serves
    pkg/deploy.json       target, Python version, app, perseus version
    pkg/requirements.txt  what pkg/server installs
    pkg/wheels/           perseus, the app's dependencies and theirs, for the target
    pkg/app/              the app's source (hidden files, caches, venvs and builds left out)
    pkg/dist/             the built site, plus dist/mutable/ (the seeded mutable store) if any

Nothing in pkg/ is served as a whole: only the app's static directory and aliases are,
and the mutable store lives in dist/, outside both.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import orjson

from .. import __version__
from .wheels import AppRequirements, Say, Target, python_version

SERVER = "server"
DEPLOY_CONFIG = "deploy.json"
REQUIREMENTS = "requirements.txt"
# Never copied from the app: the build (copied separately), caches and build leftovers.
APP_SKIP_TOP = {"dist", "build", "pkg"}
APP_SKIP_ANYWHERE = {"__pycache__", "node_modules"}
# Hidden names are left out (.git, .env, .venv), except these public ones.
APP_KEEP_HIDDEN = {".well-known"}
# The folders of the standalone layout, relative to pkg/ (read by `perseus serve`).
APP_DIR, DIST_DIR, WHEELS_DIR = "app", "dist", "wheels"


def copy_app(project: Path, destination: Path, leave_out: list[Path], say: Say) -> None:
    """Copy the app's source, without hidden files (.git, .env, .venv), caches, venvs or builds."""
    project = project.resolve()
    left_out = {p.resolve() for p in leave_out}

    def private(here: Path, name: str) -> bool:
        path = here / name
        return ((name.startswith(".") and name not in APP_KEEP_HIDDEN) or name in APP_SKIP_ANYWHERE
                or name.endswith((".pyc", ".egg-info")) or (here == project and name in APP_SKIP_TOP)
                or path.resolve() in left_out or (path / "pyvenv.cfg").exists())

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        skipped = set()
        for name in names:
            path = here / name
            if private(here, name):
                skipped.add(name)
            elif path.is_symlink() and not path.resolve().is_relative_to(project):
                # SECURITY: a link out of the project would copy files from elsewhere.
                say(f"app: left out {path.relative_to(project)}, a link to outside the project")
                skipped.add(name)
        return skipped

    shutil.copytree(project, destination, ignore=ignore, symlinks=False)


def copy_dist(dist: Path, destination: Path) -> None:
    """Copy the built site, seeded mutable store included, without the static export."""
    shutil.copytree(dist, destination, ignore=lambda folder, names: (
        {"exported"} if Path(folder) == dist else set()
    ))


def write_launcher(pkg: Path, target: Target, app_spec: str, requirements: AppRequirements) -> None:
    """Write ``pkg/server`` (executable), its configuration and its requirements."""
    config = {"target": target.name, "python": python_version(), "app": app_spec, "perseus": __version__}
    (pkg / DEPLOY_CONFIG).write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2) + b"\n")
    (pkg / REQUIREMENTS).write_text("\n".join(requirements.lines()) + "\n")
    script = resources.files("perseus.deploy").joinpath("pkg_server.py").read_bytes()
    server = pkg / SERVER
    server.write_bytes(script)
    os.chmod(server, 0o755)
