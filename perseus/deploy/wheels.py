"""Wheels for ``pkg/wheels``: deploy targets, perseus's own wheel, the dependencies for a target.

pip is run as ``python -m pip``. Building here may use this machine's pip configuration
and cache (it is only the offline install on the target that must not).
"""

from __future__ import annotations

import difflib
import json
import platform
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .. import __version__
from .._distribution import DISTRIBUTION
from ..errors import DeployError
from ..settings import Settings

Say = Callable[[str], None]
# NOTE: pip matches --platform exactly and never falls back to older manylinux tags
# (granian publishes aarch64 wheels as manylinux_2_28 only): list every tag a target
# with glibc >= 2.28 accepts.
OLDEST_GLIBC, NEWEST_GLIBC = 17, 28
# What is left out of the copy of perseus's source that its wheel is built from.
SOURCE_SKIP = {"build", "dist", "pkg", "__pycache__"}
# A wheel file name starts with the distribution name, its - and . as _ (PEP 427).
WHEEL_PREFIX = DISTRIBUTION.replace("-", "_") + "-"


@dataclass(frozen=True)
class Target:
    """A platform ``pkg/`` can be written for."""

    name: str
    machine: str

    @property
    def platforms(self) -> list[str]:
        """Every wheel platform tag the target accepts, best first (for ``pip --platform``)."""
        tags = [f"manylinux_2_{minor}_{self.machine}" for minor in range(NEWEST_GLIBC, OLDEST_GLIBC - 1, -1)]
        return [*tags, f"manylinux2014_{self.machine}", f"linux_{self.machine}"]

    @property
    def is_host(self) -> bool:
        """Whether this machine can compile perseus's core for the target."""
        return platform.system() == "Linux" and platform.machine() == self.machine


TARGETS = {target.name: target for target in (Target("linux-x86_64", "x86_64"),
                                              Target("linux-aarch64", "aarch64"))}


def resolve_target(name: str) -> Target:
    """The target called ``name``, or a ``DeployError`` listing the supported ones."""
    target = TARGETS.get(name)
    if target is None:
        raise DeployError(
            f"unknown deploy target '{name}': supported targets are {', '.join(TARGETS)}"
            " (granian, lmdb and orjson publish wheels for these; other platforms can run"
            " `perseus serve` from a normal install)"
        )
    return target


def python_version() -> str:
    """The ``X.Y`` CPython version the wheels are for: this interpreter's."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def run_pip(args: list[str], what: str, env: dict[str, str] | None = None) -> None:
    """Run ``python -m pip ARGS``; a failure raises ``DeployError`` with pip's last lines."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise DeployError(f"{what} failed:\n  $ {shlex.join(command)}\n{tail}")


def require_pip() -> None:
    """Raise ``DeployError`` unless ``python -m pip`` works here."""
    result = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if result.returncode != 0:
        raise DeployError(f"perseus deploy needs pip in {sys.prefix}: run `{sys.executable} -m ensurepip`")


def perseus_source(explicit: str | None) -> tuple[Path | None, str]:
    """Where to build perseus's wheel from, and how that was found.

    ``explicit`` (``PERSEUS_SOURCE``) first (a source tree; a built wheel is taken by
    ``own_wheel`` as it is), then the local directory this perseus was installed from
    (pip records it in ``direct_url.json``); ``None`` means: download it instead.
    """
    if explicit:
        if not _is_perseus_source(Path(explicit)):
            raise DeployError(f"PERSEUS_SOURCE={explicit} is not perseus's source"
                              " (no pyproject.toml naming it)")
        return Path(explicit).resolve(), "PERSEUS_SOURCE"
    try:
        direct = json.loads(metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "null")
    except (metadata.PackageNotFoundError, ValueError):
        direct = None
    if isinstance(direct, dict) and str(direct.get("url", "")).startswith("file://"):
        path = Path(unquote(urlsplit(direct["url"]).path))
        if _is_perseus_source(path):
            return path, "the directory perseus was installed from"
    return None, "no local source found (set PERSEUS_SOURCE to build from one)"


def _is_perseus_source(path: Path) -> bool:
    try:
        project = tomllib.loads((path / "pyproject.toml").read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project.get("name"), str) and _normalized(project["name"]) == DISTRIBUTION


def own_wheel(target: Target, wheels: Path, say: Say, settings: Settings) -> Path:
    """Put perseus's wheel for ``target`` into ``wheels``: given, built from source, or downloaded."""
    given = settings.source or ""
    if given.endswith(".whl"):
        return _given_wheel(Path(given), target, wheels, say)
    source, found_by = perseus_source(settings.source)
    if source is None:
        say(f"perseus wheel: {found_by}; downloading {DISTRIBUTION}=={__version__}")
        run_pip(["download", "--no-deps", "--only-binary=:all:", *_target_args(target), "-d", str(wheels),
                 f"{DISTRIBUTION}=={__version__}"], f"downloading {DISTRIBUTION}")
    else:
        compiled = target.is_host
        kind = "compiled core" if compiled else "pure build (this machine cannot compile for the target)"
        say(f"perseus wheel: building from {found_by} ({kind})")
        _build_wheel(source, wheels, compiled, dict(settings.environ))
    built = sorted(wheels.glob(f"{WHEEL_PREFIX}*.whl"))
    if not built:
        raise DeployError(f"no perseus wheel was produced in {wheels}")
    if target.is_host and built[0].name.endswith("-none-any.whl"):
        say("perseus wheel: the compiled core could not be built here; pkg/ has the pure build")
    return built[0]


def _given_wheel(wheel: Path, target: Target, wheels: Path, say: Say) -> Path:
    # A wheel name ends in -<python>-<abi>-<platform>.whl.
    platform_tag = wheel.name.removesuffix(".whl").rsplit("-", 1)[-1]
    if not wheel.name.startswith(WHEEL_PREFIX) or not wheel.is_file():
        raise DeployError(f"PERSEUS_SOURCE={wheel} is not a perseus wheel")
    if platform_tag != "any" and not any(tag in target.platforms for tag in platform_tag.split(".")):
        raise DeployError(f"PERSEUS_SOURCE={wheel.name} is for {platform_tag}, not {target.name}")
    say(f"perseus wheel: {wheel.name} from PERSEUS_SOURCE, as it is")
    return Path(shutil.copy(wheel, wheels))


def _build_wheel(source: Path, wheels: Path, compiled: bool, environ: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="perseus-wheel-") as scratch:
        # NOTE: built from a clean copy, so a stale build/ of the source tree cannot
        # slip old modules into the wheel.
        tree = Path(scratch) / "perseus"
        shutil.copytree(source, tree, ignore=_ignore_in_source)
        env = {**environ, **_reproducible_compiler_flags(tree, environ.get("CFLAGS", ""))}
        if not compiled:
            env["PERSEUS_NO_COMPILE"] = "1"
        run_pip(["wheel", "--no-deps", "-w", str(wheels), str(tree)], "building perseus's wheel", env=env)


def _ignore_in_source(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n.startswith(".") or n in SOURCE_SKIP or n.endswith(".egg-info")}


def _reproducible_compiler_flags(tree: Path, cflags: str) -> dict[str, str]:
    # SECURITY: keep this machine's paths out of the compiled modules: no debug info,
    # __FILE__ strings remapped, and no rpath pointing into this machine's Python.
    remaps = {tree: "perseus", Path(sys.base_prefix): "python", Path(sys.prefix): "venv",
              Path(tempfile.gettempdir()): "tmp"}
    flags = ["-g0", *(f"-ffile-prefix-map={old}={new}" for old, new in remaps.items())]
    env = {"CFLAGS": " ".join([cflags, *flags]).strip()}
    ldshared = sysconfig.get_config_var("LDSHARED")
    if isinstance(ldshared, str) and "-rpath" in ldshared:
        env["LDSHARED"] = " ".join(arg for arg in ldshared.split() if "-rpath" not in arg)
    return env


def _target_args(target: Target) -> list[str]:
    version = python_version()
    args = [arg for tag in target.platforms for arg in ("--platform", tag)]
    abi = "cp" + version.replace(".", "")
    return [*args, "--python-version", version, "--implementation", "cp", "--abi", abi]


@dataclass(frozen=True)
class AppRequirements:
    """What the app's ``[project] dependencies`` ask for: perseus's extras, and the rest as written."""

    extras: tuple[str, ...] = ()  # of perseus, e.g. ("redis",), sorted
    others: tuple[str, ...] = ()

    @property
    def perseus(self) -> str:
        """perseus's line in ``pkg/requirements.txt``: this version, with the app's extras."""
        return f"{DISTRIBUTION}{self._extras()}=={__version__}"

    def lines(self) -> list[str]:
        """``pkg/requirements.txt``: perseus first, then the app's other requirements."""
        return [self.perseus, *self.others]

    def with_own_wheel(self, own: Path) -> list[str]:
        """What ``pip download`` is given: perseus's wheel (with the extras) and the rest."""
        return [f"{own}{self._extras()}", *self.others]

    def _extras(self) -> str:
        return f"[{','.join(self.extras)}]" if self.extras else ""


def download_dependencies(own: Path, requirements: AppRequirements, target: Target, wheels: Path,
                          say: Say) -> None:
    """Download, as wheels for ``target``, everything ``own`` (with the app's extras of
    perseus) and the app's other requirements need."""
    _check_extras(own, requirements.extras)
    say(f"dependencies: downloading wheels for {target.name}, CPython {python_version()}")
    run_pip(["download", "--only-binary=:all:", *_target_args(target), "-d", str(wheels),
             *requirements.with_own_wheel(own)], f"downloading the dependencies for {target.name}")


def app_requirements(project: Path) -> AppRequirements:
    """The app's own ``[project] dependencies`` from its pyproject.toml.

    perseus itself is always installed, from its own wheel: a requirement on it keeps
    only its extras (``perseus-web[redis]``). A requirement on ``perseus``, the unrelated
    project of that name on PyPI, is refused with the right name.
    """
    try:
        config = tomllib.loads((project / "pyproject.toml").read_text())
    except FileNotFoundError:
        return AppRequirements()
    except tomllib.TOMLDecodeError as error:
        raise DeployError(f"{project / 'pyproject.toml'} is not valid TOML: {error}") from None
    wanted = config.get("project", {}).get("dependencies", [])
    if not isinstance(wanted, list) or not all(isinstance(req, str) for req in wanted):
        raise DeployError(f"[project] dependencies in {project / 'pyproject.toml'} must be a list of"
                          f" requirement strings, got {wanted!r}")
    extras: set[str] = set()
    others = []
    for requirement in wanted:
        name = _requirement_name(requirement)
        if name == "perseus":
            raise DeployError(f"the app's pyproject.toml asks for {requirement!r}, but 'perseus' on PyPI"
                              f" is an unrelated project: this framework is '{DISTRIBUTION}' (extras too:"
                              f" '{DISTRIBUTION}[redis]')")
        if name == DISTRIBUTION:
            extras.update(_extras_of(requirement))
        else:
            others.append(requirement)
    return AppRequirements(tuple(sorted(extras)), tuple(others))


def _requirement_name(requirement: str) -> str:
    name = requirement.strip()
    for stop in "<>=!~;[ @(":
        name = name.split(stop, 1)[0]
    return _normalized(name)


def _extras_of(requirement: str) -> list[str]:
    """The extras of a requirement (``name[a, b] >= 1`` gives ``["a", "b"]``)."""
    found = re.match(r"[^\[;@]*\[([^\]]*)\]", requirement)
    return [_normalized(extra) for extra in found.group(1).split(",") if extra.strip()] if found else []


def _normalized(name: str) -> str:
    # PEP 503 / PEP 685: case and runs of -, _ and . do not count.
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _check_extras(own: Path, extras: tuple[str, ...]) -> None:
    """Refuse extras of perseus that its wheel does not have (pip would only warn)."""
    if not extras:
        return
    with zipfile.ZipFile(own) as wheel:
        metadata_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    known = [_normalized(extra) for extra in metadata.get_all("Provides-Extra") or []]
    for extra in extras:
        if extra not in known:
            close = difflib.get_close_matches(extra, known, 1)
            hint = f"did you mean '{DISTRIBUTION}[{close[0]}]'?" if close else f"it has: {', '.join(known)}"
            raise DeployError(f"the app's pyproject.toml asks for {DISTRIBUTION}[{extra}], an extra perseus"
                              f" does not have; {hint}")
