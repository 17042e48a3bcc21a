"""``perseus export`` and ``perseus deploy``: shipping a built site, as files or as ``pkg/``.

The CLI passes in how to build (``build``, which prints and exits on failure) and how to
print (``say``); everything here raises ``PerseusError`` subclasses with what to do.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from ..builder.export import (
    NO_JEKYLL,
    ExportSummary,
    export_site,
    refuse_server_strategies,
    replace_directory,
)
from ..errors import DeployError
from ..loader import app_spec, load_app
from ..settings import Settings
from ..stores.immutable import Dist
from .package import DEPLOY_CONFIG, WHEELS_DIR, copy_app, copy_dist, write_launcher
from .wheels import (
    Say,
    app_requirements,
    download_dependencies,
    own_wheel,
    require_pip,
    resolve_target,
)

Build = Callable[[], None] | None
EXPORT_DIR = "exported"


def export_project(project: Path, spec: str | None, dist: Path, build: Build, say: Say,
                   settings: Settings) -> ExportSummary:
    """Refuse server strategies, build (unless ``build`` is None), export into ``dist/exported``."""
    app = load_app(app_spec(spec, settings), project)
    # Before building: a refused export writes nothing at all.
    refuse_server_strategies(app)
    if build is not None:
        build()
    summary = export_site(Dist(dist), app, dist / EXPORT_DIR, settings.base_path)
    say(f"exported {summary.pages} page(s), {summary.files} file(s) to {summary.output}")
    return summary


def deploy_project(
    project: Path, spec: str | None, dist: Path, output: Path, target_name: str,
    *, export_only: bool, build: Build, say: Say, settings: Settings,
) -> Path:
    """Write ``output`` (pkg/): the static export alone, or wheels + app + site + ``server``."""
    target = resolve_target(target_name)
    project, dist, output = project.resolve(), dist.resolve(), output.resolve()
    if project.is_relative_to(output):
        raise DeployError(f"--output {output} would replace the project itself: pick another folder")
    _check_replaceable(output)
    if export_only:
        summary = export_project(project, spec, dist, build, say, settings)
        staging = _staging(output)
        shutil.copytree(summary.output, staging)
        replace_directory(staging, output)
        say(f"{output}: the static export, ready for any static host")
        return output
    require_pip()
    if build is not None:
        build()
    resolved_spec = app_spec(spec, settings)
    staging = _staging(output)
    try:
        wheels = staging / WHEELS_DIR
        wheels.mkdir(parents=True)
        requirements = app_requirements(project)
        own = own_wheel(target, wheels, say, settings)
        download_dependencies(own, requirements, target, wheels, say)
        say(f"app: copying {project} (source) and the build {dist}")
        copy_app(project, staging / "app", leave_out=[output, dist], say=say)
        copy_dist(dist, staging / "dist")
        write_launcher(staging, target, resolved_spec, requirements)
        replace_directory(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    wheel_count = len(list((output / WHEELS_DIR).glob("*.whl")))
    say(f"{output}: {wheel_count} wheel(s) for {target.name}; copy it to the server and run"
        f" {output.name}/server")
    return output


def _check_replaceable(output: Path) -> None:
    # SECURITY: deploy replaces its output whole; never a folder it did not write.
    if not output.exists():
        return
    ours = (output / DEPLOY_CONFIG).is_file() or (output / NO_JEKYLL).is_file()
    if not output.is_dir() or not (ours or not any(output.iterdir())):
        raise DeployError(
            f"--output {output} exists and was not written by perseus deploy: remove it or pick"
            " another folder (deploy replaces its output as a whole)"
        )


def _staging(output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    return output.parent / f".{output.name}.building-{secrets.token_hex(4)}"
