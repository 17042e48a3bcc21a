"""``perseus serve --watch``: rebuild on changes, serve the last good build, reload browsers.

This process never imports the app: each build runs in a fresh ``perseus build``
subprocess (so edited modules are imported anew), and the server is a ``perseus serve
--no-build`` subprocess on a loopback port, replaced only after a build succeeded. The
session holds the user's port itself and relays connections to the current server
(``perseus.dev_front``), so swapping servers refuses no connection. A failed build prints
its failures with the user's frames (``perseus.tracebacks``) and records its overlay
(``perseus.dev_files``), which the server pushes onto open pages; the previous server
keeps serving. Both children get ``PERSEUS_DEV_RELOAD=1`` (``Settings.dev_reload``), which
gives pages the reload script and the server its ``/.perseus/dev/events`` stream
(``perseus.turbine.dev_reload``); they read the rest of their settings themselves, so
an edit to ``[tool.perseus]`` takes effect on the next build.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import click

from .dev_files import DEV_PREFIX, clear_failure, read_failure, read_inputs, remove_all
from .dev_front import Front, listen
from .dev_overlay import document, overlay
from .errors import PerseusError
from .http.urls import READY_PATH
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
# How long a replaced server gets to drain (granian: a second) and finish what it answers.
RETIRE_SECONDS = 10.0
# How long a new server gets to answer /.perseus/ready (it imports the app, opens the build).
READY_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.05
MAX_CHANGES_SHOWN = 3
# Never watched: what builds and tools write inside the project.
IGNORED_TOP_LEVEL = {"pkg", "build", ".nox", ".tox", "venv", "env", ".eggs"}
IGNORED_DIRS = {".ruff_cache", "site-packages"}
IGNORED_FILES = (r"\.log$", r"\.tmp$")
# Top-level directories whose Python modules are not the site's.
NOT_THE_SITE = {"tests", "test", "docs"}
# What the app reads besides its modules, until a build says where its directories are.
DEFAULT_INPUTS = ("static", "translations", "templates")


def _watchfiles() -> Any:
    """The optional ``watchfiles`` module, or an error saying how to install it."""
    try:
        import watchfiles
    except ImportError:
        raise PerseusError(f"`perseus serve --watch` needs watchfiles: {INSTALL_HINT}") from None
    return watchfiles


def project_filter(project: Path, dist: Path) -> Any:
    """A watchfiles filter passing only changes that can change the site (``can_change_site``).

    It also ignores ``dist`` (and the build's temporary siblings), ``pkg/``, virtual
    environments, caches, VCS directories, editors' files and logs, wherever they are.
    """
    watchfiles = _watchfiles()
    venvs = {child.name for child in project.iterdir() if (child / "pyvenv.cfg").is_file()}
    top_level = IGNORED_TOP_LEVEL | venvs
    # The build's temporary siblings, its lock, the records of running servers, the session's files.
    building = re.compile(rf"^\.{re.escape(dist.name)}\.(building-|old-|{DEV_PREFIX}|lock$|servers$)")

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
            return bool(super().__call__(change, raw_path)) and can_change_site(path, project, dist)

    return ProjectFilter()


def can_change_site(path: Path, project: Path, dist: Path) -> bool:
    """Whether a change to ``path`` can change what the site builds or serves.

    Python modules anywhere in the project but its tests (``tests/``, ``test/``) and docs
    (``docs/``), ``pyproject.toml``, and what the app reads: its static directory,
    translations directory and ``templates/``, and its static aliases' files, as the last
    build that loaded the app recorded them (before one: ``static/``, ``translations/``
    and ``templates/``). Nothing else: not a README, notes, tests, ``.git``.
    """
    relative = path.relative_to(project).parts if path.is_relative_to(project) else ()
    if path.suffix == ".py":
        return not (relative and relative[0] in NOT_THE_SITE)
    if relative == ("pyproject.toml",):
        return True
    inputs = read_inputs(dist)
    directories, files = inputs if inputs is not None else ([project / d for d in DEFAULT_INPUTS], [])
    return path in files or any(path.is_relative_to(directory) for directory in directories)


class DevServer:
    """The build and server subprocesses of one ``perseus serve --watch`` session, behind
    the session's own port (``perseus.dev_front``)."""

    def __init__(self, project: Path, dist: Path, app_spec: str | None,
                 host: str, port: int, workers: int, settings: Settings) -> None:
        self.project = project
        self.dist = dist
        self.app_args = ["--app", app_spec] if app_spec else []
        self.workers = workers
        self.url = f"http://{host}:{port}"
        self.front = Front(listen(host, port))
        self.server: subprocess.Popen[bytes] | None = None
        self.retiring: list[threading.Thread] = []  # replaced servers, draining
        # `--strict` reaches the builds; without it they read PERSEUS_STRICT and pyproject anew.
        strict = {"strict": True} if settings.strict else {}
        self.env = {**settings.child_environment(reread=True, dev_reload=True, **strict),
                    "PYTHONUNBUFFERED": "1"}

    def _spawn(self, *args: str, quiet: bool = False) -> subprocess.Popen[bytes]:
        # Each child leads its own process group, so stopping it reaches every process
        # it started (granian's workers), and a Ctrl-C in the terminal reaches only us.
        return subprocess.Popen([sys.executable, "-m", "perseus", *args], cwd=self.project,
                                env=self.env, start_new_session=True,
                                stdout=subprocess.DEVNULL if quiet else None)

    def build(self) -> bool:
        """Build in a fresh process; True if ``dist`` now holds a new build.

        Its failures (stderr) reach the terminal as they are; its progress and report
        (stdout: the route table) are left out, a rebuild says one line instead.
        """
        builder = self._spawn("build", "--dist", str(self.dist), *self.app_args, quiet=True)
        try:
            builder.wait()
        finally:
            stop_group(builder)
        if builder.returncode != 0:
            if self.server is None:  # nothing else answers: the failure does, on every path
                failure = read_failure(self.dist)
                stamp, shown = failure if failure is not None else (time.time_ns(), overlay(
                    "Build failed", "see the terminal; fix the error and save", []))
                self.front.show(str(stamp), document("Build failed", shown))
            return False
        clear_failure(self.dist)
        return True

    def serve(self) -> bool:
        """Start a server on the build in ``dist`` beside the running one, send new
        connections to it once it is ready, then retire the old one; False if it did not start."""
        port = free_loopback_port()
        server = self._spawn("serve", "--no-build", "--dist", str(self.dist), *self.app_args,
                             "--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers))
        if not wait_until_ready(server, port):
            stop_group(server)
            if self.server is None:
                self.front.show(str(time.time_ns()), document("Server did not start", overlay(
                    "The server did not start", "see the terminal; fix the error and save", [])))
            return False
        self.front.point_at(port)
        old, self.server = self.server, server
        if old is not None:
            self.retiring = [thread for thread in self.retiring if thread.is_alive()]
            self.retiring.append(retire(old))
        return True

    def stop_server(self) -> None:
        """Stop the server, and wait for the replaced ones to finish stopping."""
        if self.server is not None:
            stop_group(self.server)
            self.server = None
        for thread in self.retiring:
            thread.join()

    def run(self) -> None:
        """Build, serve and rebuild on changes until interrupted."""
        watchfiles = _watchfiles()
        clear_failure(self.dist)  # a previous session's
        self.front.start()
        say(f"watching {self.project} for changes (Ctrl-C to stop)")
        if self.build() and self.serve():
            say(f"serving build {read_build_id(self.dist)} on {self.url}")
        else:
            say(f"the first build failed: fix the error and save; {self.url} shows the error until"
                " a good build")
        for changes in watchfiles.watch(
            self.project, watch_filter=project_filter(self.project, self.dist), step=STEP_MS,
            debounce=DEBOUNCE_MS, rust_timeout=TICK_MS, yield_on_timeout=True,
        ):
            if self.server is not None and self.server.poll() is not None:
                say(f"the server stopped (exit status {self.server.returncode}); it restarts after the"
                    " next good build")
                self.server = None
                self.front.show("stopped", document("Server stopped", overlay(
                    "The server stopped", "see the terminal; it restarts after the next good build", [])))
            if changes:
                self._rebuild(sorted({path for _, path in changes}))

    def _rebuild(self, paths: list[str]) -> None:
        shown = ", ".join(os.path.relpath(path, self.project) for path in paths[:MAX_CHANGES_SHOWN])
        more = f" and {len(paths) - MAX_CHANGES_SHOWN} more" if len(paths) > MAX_CHANGES_SHOWN else ""
        say(f"changed: {shown}{more}; rebuilding")
        started = time.monotonic()
        if self.build() and self.serve():
            say(f"serving build {read_build_id(self.dist)} ({time.monotonic() - started:.1f}s)")
        elif self.server is not None:
            say("build failed: still serving the last good build; fix the error and save")
        else:
            say("build failed: fix the error and save")


def free_loopback_port() -> int:
    """A port nothing listens on, for the next server (the front relays to it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(server: subprocess.Popen[bytes], port: int) -> bool:
    """Whether ``server`` answers 200 on ``/.perseus/ready`` within READY_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", READY_PATH)
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(READY_POLL_SECONDS)
    say("the new server did not start (see above); still serving the last good build")
    return False


def retire(server: subprocess.Popen[bytes]) -> threading.Thread:
    """Stop a replaced server gracefully: its main process drains its workers (requests in
    flight finish), then stops them; ``stop_group`` cleans up, in the thread returned."""
    with suppress(ProcessLookupError):
        server.send_signal(signal.SIGTERM)
    thread = threading.Thread(target=stop_group, args=(server, RETIRE_SECONDS), daemon=True)
    thread.start()
    return thread


def stop_group(process: subprocess.Popen[bytes], wait: float = 0.0) -> None:
    """Stop ``process`` and every process of its group; kill what outlives the grace period.

    ``wait``: how long it may take to stop by itself (signalled already) before the group is told.
    """
    if process.poll() is not None:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not _exited(process.pid):
        time.sleep(0.05)
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
        dev.front.stop()
        remove_all(dev.dist)
    return 0
