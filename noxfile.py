"""Sessions: tests (compiled core), tests-pure (pure build), lint, bench, bench-scale, soak, lighthouse,
faults, faults-quick.

Every session installs the project as a wheel and never imports the source tree:
the repository root holds a ``perseus_core/`` without compiled modules, so Python
runs with -P / pytest in importlib mode (see tests/test_implementation.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests", "tests-pure"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
# pip: `perseus deploy` runs `python -m pip` (uv-made venvs have none).
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100", "httpx>=0.27", "pytest-timeout>=2.3", "playwright>=1.45",
             "watchfiles>=0.21", "pip", "redis>=5", "pytest-xdist>=3.5",
             "prometheus_client>=0.20",
             # starlette: tests/test_mounts.py mounts a real Starlette app (PerseusApp(mounts=...)).
             "starlette>=0.40"]
# pytest-xdist: three workers, each taking whole files (so no module or session fixture is
# made twice). test_deploy.py (collected first, see tests/conftest.py) keeps one busy for
# about 40% of the run; the other two share the rest, most of which waits on regeneration
# intervals, subprocesses and servers. On a shared 2-core machine tests-pure took 188 s in one
# process, 139 s on 2 workers (files in name order), 105 s on 3 with test_deploy.py first.
# `-- -n 0` runs in one process.
PARALLEL = ["-n", "3", "--dist", "loadfile"]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite against the compiled core."""
    session.install(".", *TEST_DEPS)
    session.run("pytest", *PARALLEL, *session.posargs,
                env={"PERSEUS_EXPECT_IMPL": "compiled", "PYTHONSAFEPATH": "1"})


@nox.session(python=PYTHON, name="tests-pure")
def tests_pure(session: nox.Session) -> None:
    """The whole suite against the pure-Python build (installed with PERSEUS_NO_COMPILE=1)."""
    session.install(".", *TEST_DEPS, env={"PERSEUS_NO_COMPILE": "1"})
    session.run("pytest", *PARALLEL, *session.posargs,
                env={"PERSEUS_EXPECT_IMPL": "python", "PYTHONSAFEPATH": "1"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on everything; mypy --strict on both packages."""
    session.install("ruff==0.17.6", "mypy>=1.11", "orjson", "granian", "click", "lmdb", "fluent.runtime",
                    "watchfiles", "redis>=5", "prometheus_client>=0.20", "brotli",
                    "jinja2>=3.1")
    session.run("ruff", "check", "perseus", "perseus_core", "tests", "faults", "noxfile.py", "setup.py",
                "bench")
    session.run("mypy", "--strict", "perseus_core", "perseus")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks printing ratios measured side by side in one run (needs wrk)."""
    session.install(".", "httpx>=0.27", "starlette", "jinja2", "aiofiles", "redis>=5")
    session.run("python", "-P", "bench/run.py", *session.posargs)


@nox.session(python=PYTHON, name="bench-scale")
def bench_scale(session: nox.Session) -> None:
    """Issue 15's targets at full size (~15 min): 100,000 Jinja2 pages built with 2 workers vs 1 and
    served (anonymous vs file-backed memory), the peak RSS of a 20,000-page build, 1,000,000 small
    pages built and served. Writes bench/results-scale.md."""
    session.install(".", "jinja2")
    session.run("python", "-P", "bench/scale_large.py", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Ten minutes of steady mixed traffic (needs wrk): the server's RSS at the end vs after the first
    minute (within 5%). `-- --minutes N` for another length. Writes bench/results-soak.md."""
    session.install(".")
    session.run("python", "-P", "bench/soak.py", "--results", "bench/results-soak.md", *session.posargs)


LIGHTHOUSE = "12.2.3"


@nox.session(python=PYTHON)
def lighthouse(session: nox.Session) -> None:
    """Lighthouse (from npm, with Debian's Chromium) on every example, desktop and mobile: prints the
    four scores and fails when one misses its target (100; performance on mobile at least 98)."""
    # Installed once into .nox/ (not globally) by the system's npm.
    if shutil.which("npm") is None:
        session.error("nox -s lighthouse needs node and npm (Debian: apt-get install nodejs npm)")
    prefix = Path(".nox", "_lighthouse", LIGHTHOUSE).resolve()
    command = prefix / "node_modules" / ".bin" / "lighthouse"
    if not command.exists():
        session.run("npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                    f"lighthouse@{LIGHTHOUSE}", external=True)
    session.install(".")
    session.run("python", "-P", "bench/lighthouse.py", "--lighthouse", str(command), *session.posargs,
                env={"CHROME_PATH": "/usr/bin/chromium"})


# The fault scenarios of faults/ (not collected by the suite): real granian, LMDB and Redis broken on
# purpose, one scenario at a time (they measure answers under load, so never in parallel), against
# the compiled core. faults/README.md gives each one's time; FAULTS_SCALE sizes the run.
FAULTS = ["pytest", "faults", "-p", "no:cacheprovider", "--timeout", "1800"]


@nox.session(python=PYTHON)
def faults(session: nox.Session) -> None:
    """Every fault scenario at full size (about 20 minutes; needs root for the tmpfs mount)."""
    session.install(".", *TEST_DEPS)
    session.run(*FAULTS, *session.posargs, env={"PYTHONSAFEPATH": "1"})


@nox.session(python=PYTHON, name="faults-quick")
def faults_quick(session: nox.Session) -> None:
    """Every fault scenario at a tenth of its size (FAULTS_SCALE=0.1): a few minutes, for CI."""
    session.install(".", *TEST_DEPS)
    session.run(*FAULTS, *session.posargs, env={"PYTHONSAFEPATH": "1", "FAULTS_SCALE": "0.1"})
