"""``perseus serve --watch``: rebuild on every change, serve the last good build, reload browsers.

This process never imports the app: each build runs in a fresh ``perseus build``
subprocess (so edited modules are imported anew), and the server is a ``perseus serve
--no-build`` subprocess that is replaced only after a build succeeded. A failed build
prints its failures (the build names every one) and the previous server keeps serving.
Both children get ``PERSEUS_DEV_RELOAD=1`` (``Settings.dev_reload``), which gives pages the
reload script and the server its ``/.perseus/dev/events`` stream
(``perseus.turbine.dev_reload``); they read the rest of their settings themselves, so
an edit to ``[tool.perseus]`` takes effect on the next build.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from .errors import PerseusError
from .settings import Settings
from .stores.immutable import read_build_id

INSTALL_HINT = "pip install 'perseus-web[dev]'"
# Changes closer together than STEP_MS are one burst (an editor's write-then-rename, a
# `git checkout`); a burst is cut off after DEBOUNCE_MS so a busy tree still rebuilds.
STEP_MS = 100
DEBOUNCE_MS = 1_600
# How often the watch loop wakes without changes to check that the server still runs.
TICK_MS = 1_000
# How long a server (granian and its workers) gets to stop before it is killed.
STOP_GRACE_SECONDS = 5.0
MAX_CHANGES_SHOWN = 3
# Never watched: what builds and tools write inside the project.
IGNORED_TOP_LEVEL = {"pkg", "build", ".nox", ".tox", "venv", "env", ".eggs"}
IGNORED_DIRS = {".ruff_cache", "site-packages"}
IGNORED_FILES = (r"\.log$", r"\.tmp$")


def _watchfiles() -> Any:
    """The optional ``watchfiles`` module, or an error saying how to install it."""
    try:
        import watchfiles
    except ImportError:
        raise PerseusError(f"`perseus serve --watch` needs watchfiles: {INSTALL_HINT}") from None
    return watchfiles


def project_filter(project: Path, dist: Path) -> Any:
    """A watchfiles filter for the project: sources, static files, translations, templates.

    It ignores ``dist`` (and the build's temporary siblings), ``pkg/``, virtual
    environments, caches, VCS directories and logs.
    """
    watchfiles = _watchfiles()
    venvs = {child.name for child in project.iterdir() if (child / "pyvenv.cfg").is_file()}
    top_level = IGNORED_TOP_LEVEL | venvs
    # The build's temporary siblings, its lock, and the records of running servers.
    building = re.compile(rf"^\.{re.escape(dist.name)}\.(building-|old-|lock$|servers$)")

    class ProjectFilter(watchfiles.DefaultFilter):  # type: ignore[misc, name-defined]
        ignore_dirs = (*watchfiles.DefaultFilter.ignore_dirs, *IGNORED_DIRS)
        ignore_entity_patterns = (*watchfiles.DefaultFilter.ignore_entity_patterns, *IGNORED_FILES)

        def __call__(self, change: Any, raw_path: str) -> bool:
            path = Path(raw_path)
            if path.is_relative_to(dist.parent):  # dist/ and the build's temporary siblings
                beside_dist = path.relative_to(dist.parent).parts
                if beside_dist and (beside_dist[0] == dist.name or building.match(beside_dist[0])):
                    return False
            if path.is_relative_to(project):
                parts = path.relative_to(project).parts
                if parts and parts[0] in top_level:
                    return False
            return bool(super().__call__(change, raw_path))

    return ProjectFilter()


class DevServer:
    """The build and server subprocesses of one ``perseus serve --watch`` session."""

    def __init__(self, project: Path, dist: Path, app_spec: str | None,
                 host: str, port: int, workers: int, settings: Settings) -> None:
        self.project = project
        self.dist = dist
        self.app_args = ["--app", app_spec] if app_spec else []
        self.serve_args = ["--host", host, "--port", str(port), "--workers", str(workers)]
        self.url = f"http://{host}:{port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.env = {**settings.child_environment(reread=True, dev_reload=True), "PYTHONUNBUFFERED": "1"}

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        # Each child leads its own process group, so stopping it reaches every process
        # it started (granian's workers), and a Ctrl-C in the terminal reaches only us.
        return subprocess.Popen([sys.executable, "-m", "perseus", *args], cwd=self.project,
                                env=self.env, start_new_session=True)

    def build(self) -> bool:
        """Build in a fresh process; True if ``dist`` now holds a new build."""
        builder = self._spawn("build", "--dist", str(self.dist), *self.app_args)
        try:
            return builder.wait() == 0
        finally:
            stop_group(builder)

    def serve(self) -> None:
        """(Re)start the server on the build in ``dist``."""
        self.stop_server()
        self.server = self._spawn("serve", "--no-build", "--dist", str(self.dist),
                                  *self.app_args, *self.serve_args)

    def stop_server(self) -> None:
        if self.server is not None:
            stop_group(self.server)
            self.server = None

    def run(self) -> None:
        """Build, serve and rebuild on changes until interrupted."""
        watchfiles = _watchfiles()
        say(f"watching {self.project} for changes (Ctrl-C to stop)")
        if self.build():
            self.serve()
        else:
            say("the first build failed: fix the error and save, the server starts after a good build")
        for changes in watchfiles.watch(
            self.project, watch_filter=project_filter(self.project, self.dist), step=STEP_MS,
            debounce=DEBOUNCE_MS, rust_timeout=TICK_MS, yield_on_timeout=True,
        ):
            if self.server is not None and self.server.poll() is not None:
                say(f"the server stopped (exit status {self.server.returncode}); it restarts after the"
                    " next good build")
                self.server = None
            if changes:
                self._rebuild(sorted({path for _, path in changes}))

    def _rebuild(self, paths: list[str]) -> None:
        shown = ", ".join(os.path.relpath(path, self.project) for path in paths[:MAX_CHANGES_SHOWN])
        more = f" and {len(paths) - MAX_CHANGES_SHOWN} more" if len(paths) > MAX_CHANGES_SHOWN else ""
        say(f"changed: {shown}{more}; rebuilding")
        if self.build():
            self.serve()
            say(f"serving build {read_build_id(self.dist)} on {self.url}")
        elif self.server is not None:
            say("build failed: still serving the last good build; fix the error and save")
        else:
            say("build failed: fix the error and save")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` and every process of its group; kill what outlives the grace period."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    # NOTE: wait without reaping: while the leader is a zombie its group id cannot be
    # reused, so the SIGKILL below reaches only processes this session started.
    while time.monotonic() < deadline and not _exited(process.pid):
        time.sleep(0.05)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _exited(pid: int) -> bool:
    result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return result is not None


def say(line: str) -> None:
    click.secho(f"perseus: {line}", fg="cyan")


def run_dev(app_spec: str | None, dist: Path, settings: Settings, *, host: str, port: int,
            workers: int) -> int:
    """The ``perseus serve --watch`` command; returns its exit status once interrupted (Ctrl-C, SIGTERM)."""
    _watchfiles()
    dev = DevServer(Path.cwd(), dist.resolve(), app_spec, host, port, workers, settings)
    # SIGTERM stops the session like Ctrl-C does: children first, then us. SIGINT is set
    # too, as a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        dev.run()
    except KeyboardInterrupt:
        say("stopping")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        dev.stop_server()
    return 0
