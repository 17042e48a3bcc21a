#!/usr/bin/env python3
"""Start this site: install it from ./wheels (no network), then serve it.

Written by ``perseus deploy`` as ``pkg/server``. Needs only Python (with its ``venv``
module); reads only the standard library, since nothing else is installed yet.

    pkg/server                 install once into pkg/.venv, then serve (PERSEUS_STANDALONE=true)
    pkg/server --install-only  install, do not serve (e.g. in a Dockerfile RUN step)

Environment: PERSEUS_HOST, PERSEUS_PORT, PERSEUS_WORKERS, PERSEUS_MUTABLE_DIR (passed to
the server) and PERSEUS_VENV, where the virtual environment goes (default: <pkg>/.venv;
set it when pkg/ is read-only).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent
INSTALLED_MARK = "perseus-pkg-installed.txt"


def say(message: str) -> None:
    print(f"pkg/server: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    say(f"error: {message}")
    raise SystemExit(2)


def check_python(wanted: str) -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != wanted:
        fail(f"this pkg/ holds wheels for CPython {wanted}, but {sys.executable} is {running}:"
             f" run it with python{wanted} ({'python' + wanted} {PKG / 'server'})")


def fingerprint(venv: Path) -> str:
    """What the venv was installed from and where: requirements, wheels, its path, this Python.

    A venv holds absolute paths (its scripts, its interpreter), so a pkg/ copied or moved
    after an install is installed again rather than run from a broken venv.
    """
    digest = hashlib.sha256((PKG / "requirements.txt").read_bytes())
    digest.update(f"{venv}\n{os.path.realpath(sys.executable)}\n{sys.version}\n".encode())
    for wheel in sorted(p.name for p in (PKG / "wheels").glob("*.whl")):
        digest.update(wheel.encode() + b"\n")
    return digest.hexdigest()


def offline_environment() -> dict[str, str]:
    # NOTE: PIP_* variables (an index, extra find-links) must not add sources; pip also
    # runs --isolated so no configuration file does either.
    return {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}


def install(venv: Path) -> None:
    """Create ``venv`` and install the requirements from pkg/wheels alone, unless already done."""
    mark = venv / INSTALLED_MARK
    wanted = fingerprint(venv)
    if mark.is_file() and mark.read_text().strip() == wanted:
        return
    say(f"installing from {PKG / 'wheels'} into {venv} (offline)")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        fail(f"could not create a virtual environment in {venv} ({error}): if pkg/ is read-only,"
             " set PERSEUS_VENV to a writable directory; on Debian, install python3-venv")
    command = [
        str(venv / "bin" / "python"), "-m", "pip", "--isolated", "--disable-pip-version-check",
        "install", "--quiet", "--no-index", "--no-cache-dir", "--find-links", str(PKG / "wheels"),
        "--requirement", str(PKG / "requirements.txt"),
    ]
    if subprocess.run(command, env=offline_environment()).returncode != 0:
        fail(f"installing from {PKG / 'wheels'} failed (above); this pkg/ may be for another"
             " platform: see deploy.json")
    mark.write_text(wanted + "\n")


def main(argv: list[str]) -> None:
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return
    config = json.loads((PKG / "deploy.json").read_text())
    check_python(config["python"])
    venv = Path(os.environ.get("PERSEUS_VENV") or PKG / ".venv").absolute()
    install(venv)
    if "--install-only" in argv:
        say(f"installed into {venv}")
        return
    environment = {**os.environ, "PERSEUS_STANDALONE": "true", "PERSEUS_PKG": str(PKG),
                   "PERSEUS_APP": config["app"], "PYTHONDONTWRITEBYTECODE": "1"}
    python = str(venv / "bin" / "python")
    # exec: the server becomes this process, so signals from a supervisor reach it.
    # -P: a "perseus" folder in the working directory must not shadow the installed one.
    os.execve(python, [python, "-P", "-m", "perseus", "serve"], environment)


if __name__ == "__main__":
    main(sys.argv[1:])
