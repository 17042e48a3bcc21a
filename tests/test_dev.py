"""``perseus serve --watch``: rebuilds on change, keeps serving the last good build, reloads
browsers, and leaves no process behind. Real processes on loopback, every wait bounded."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import Server, browser_page, copy_example, free_port

CHANGE_TIMEOUT = 30.0
FAILED_BUILD_LINE = "build failed: still serving the last good build"
PAGE_BUILD_ID = re.compile(r'\{"build":"([^"]+)","events":"/\.perseus/dev/events"\}')


class WatchServer:
    """``perseus serve --watch`` in a subprocess, its output in a log beside the project."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # NOTE: the log lives outside the project, which is being watched.
        self.log = project.parent / f"watch-{self.port}.log"
        self._log_file = open(self.log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "perseus", "serve", "--watch", "--port", str(self.port)],
            cwd=project, stdout=self._log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def output(self) -> str:
        return self.log.read_text()

    def page(self, path: str = "/") -> str | None:
        """The page's HTML, or None while no server answers (between two servers)."""
        try:
            response = self.client.get(path)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + CHANGE_TIMEOUT
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.process.poll() is None, f"perseus serve --watch exited:\n{self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"{what} within {CHANGE_TIMEOUT}s:\n{self.output()}")

    def wait_for_text(self, text: str, path: str = "/") -> str:
        self.wait_for(lambda: text in (self.page(path) or ""), f"{path} did not show {text!r}")
        return self.page(path) or ""

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[WatchServer]:
    server = WatchServer(copy_example("basic", tmp_path))
    yield server
    server.close()


def edit(project: Path, old: str, new: str) -> None:
    app = project / "app.py"
    source = app.read_text()
    assert old in source
    app.write_text(source.replace(old, new))


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_watch_rebuilds_keeps_the_last_good_build_and_stops_cleanly(watched: WatchServer) -> None:
    project = watched.project
    watched.wait_for_text("Welcome to perseus")

    edit(project, "Welcome to perseus", "Welcome to the edited site")
    watched.wait_for_text("Welcome to the edited site")

    # A state function that raises: the build names the page, the old build keeps serving.
    edit(project, "async def index_state(info):\n",
         "async def index_state(info):\n    raise RuntimeError('the greeting service is down')\n")
    watched.wait_for(lambda: watched.output().count(FAILED_BUILD_LINE) == 1, "no failed build reported")
    assert "template 'index'" in watched.output()
    assert "the greeting service is down" in watched.output()
    assert "Welcome to the edited site" in (watched.page() or "")

    # A syntax error: the build names the file and line, the old build keeps serving.
    edit(project, "    raise RuntimeError('the greeting service is down')\n", "    return (\n")
    watched.wait_for(lambda: watched.output().count(FAILED_BUILD_LINE) == 2, "no second failed build")
    assert "SyntaxError" in watched.output()
    line = (project / "app.py").read_text().splitlines().index("    return (") + 1
    assert f"  app.py:{line}\n      return (\n  SyntaxError: '(' was never closed" in watched.output()
    assert "Welcome to the edited site" in (watched.page() or "")
    assert "Nothing here" in watched.client.get("/missing").text  # the whole last build, not just /

    edit(project, "    return (\n", "")
    edit(project, "Welcome to the edited site", "Welcome after the fix")
    watched.wait_for_text("Welcome after the fix")

    tree = descendants(watched.process.pid)
    assert len(tree) >= 2, "expected granian and its worker below perseus serve --watch"
    watched.process.send_signal(signal.SIGINT)
    assert watched.process.wait(20) == 0
    assert [pid for pid in tree if alive(pid)] == []
    assert list(project.glob(".dist.dev-*")) == []  # the session leaves none of its files


def test_events_announce_each_new_build_and_the_browser_reloads(
    watched: WatchServer, browser: Browser
) -> None:
    html = watched.wait_for_text("Welcome to perseus")
    first = PAGE_BUILD_ID.search(html)
    assert first is not None, "the page has no reload script in watch mode"

    with browser_page(browser) as page:
        page.goto(watched.url + "/")
        page.evaluate("window.__before_rebuild = true")  # gone only if the page reloads
        with watched.client.stream("GET", "/.perseus/dev/events", timeout=CHANGE_TIMEOUT) as events:
            assert events.headers["content-type"] == "text/event-stream"
            lines = events.iter_lines()
            assert next(line for line in lines if line.startswith("data: ")) == f"data: {first.group(1)}"
            edit(watched.project, "Welcome to perseus", "Welcome to the rebuilt site")
            # The stream ends once dist/ holds the new build: this server is about to go.
            assert [line for line in lines if line.startswith("data: ")] == []

        def new_build_announced() -> bool:
            try:
                with watched.client.stream("GET", "/.perseus/dev/events", timeout=5) as again:
                    for line in again.iter_lines():
                        if line.startswith("data: "):
                            return line != f"data: {first.group(1)}"
            except httpx.HTTPError:
                pass
            return False

        watched.wait_for(new_build_announced, "the events stream did not announce a new build")
        rebuilt = PAGE_BUILD_ID.search(watched.wait_for_text("Welcome to the rebuilt site"))
        assert rebuilt is not None and rebuilt.group(1) != first.group(1)

        page.wait_for_function("document.querySelector('h1').textContent === 'Welcome to the rebuilt site'",
                               timeout=CHANGE_TIMEOUT * 1000)
        assert page.evaluate("window.__before_rebuild") is None


def test_a_normal_build_has_no_reload_script_or_events(basic_server: Server) -> None:
    for path in ("/", "/about", "/post/first", "/missing"):
        body = basic_server.get(path).text
        assert "<h1>" in body
        assert "EventSource" not in body and "/.perseus/dev/" not in body
    assert basic_server.get("/.perseus/dev/events").status_code == 404
    pages = (basic_server.project / "dist" / "pages.bin").read_bytes()
    assert b"EventSource" not in pages


def test_watch_without_watchfiles_says_how_to_install(tmp_path: Path) -> None:
    blocked = "import sys; sys.modules['watchfiles'] = None; from perseus.cli import main; main()"
    result = subprocess.run([sys.executable, "-P", "-c", blocked, "serve", "--watch"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "pip install 'perseus-web[dev]'" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_the_watch_filter_skips_builds_tools_and_environments(tmp_path: Path) -> None:
    from watchfiles import Change

    from perseus.dev import project_filter

    project = tmp_path / "site"
    (project / ".venv-x").mkdir(parents=True)
    (project / ".venv-x" / "pyvenv.cfg").write_text("home = /usr\n")
    dist = project / "dist"
    accepts = project_filter(project, dist)
    for watched_path in ("app.py", "pages/post.py", "static/style.css", "translations/en-US.ftl",
                         "templates/page.html", "pyproject.toml", "distant.py"):
        assert accepts(Change.modified, str(project / watched_path)), watched_path
    for ignored in ("README.md", "notes.txt", "docs/conf.py", "tests/test_site.py", "app.py.swp",
                    ".dist.dev-failure.html", "translations.md",
                    "dist/pages.bin", "dist", ".dist.building-20260101-abcd/extra/a.json",
                    ".dist.old-20260101-abcd", ".dist.lock", ".dist.servers/123.json", "pkg/server",
                    ".nox/tests/x.py", ".git/index",
                    "__pycache__/app.cpython-311.pyc", ".venv-x/lib/x.py", "server.log"):
        assert not accepts(Change.modified, str(project / ignored)), ignored


def test_a_first_build_that_fails_starts_the_server_once_fixed(tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    edit(project, "def post_paths():\n", "def post_paths(:\n")
    server = WatchServer(project)
    try:
        server.wait_for(lambda: "the first build failed" in server.output(), "no first-build failure")
        assert "SyntaxError" in server.output()
        assert server.page() is None  # nothing to serve yet
        edit(project, "def post_paths(:\n", "def post_paths():\n")
        server.wait_for_text("Welcome to perseus")
    finally:
        server.close()


def test_the_watch_filter_follows_the_directories_the_app_reads(tmp_path: Path) -> None:
    from watchfiles import Change

    from perseus import PerseusApp, Template
    from perseus.dev import project_filter
    from perseus.dev_files import write_inputs

    project = tmp_path / "site"
    (project / "assets").mkdir(parents=True)
    (project / "robots.txt").write_text("User-agent: *\n")
    dist = project / "dist"
    accepts = project_filter(project, dist)
    assert not accepts(Change.modified, str(project / "assets" / "site.css"))  # before a build says so
    app = PerseusApp(templates=[Template("index", view=lambda ctx, state: "")], root=project,
                     static_dir="assets", static_aliases={"/robots.txt": "robots.txt"},
                     translations_dir="i18n")
    write_inputs(app, dist)  # what a build under --watch records once it loaded the app
    for watched_path in ("assets/site.css", "robots.txt", "i18n/fr-FR.ftl", "templates/base.html", "app.py"):
        assert accepts(Change.modified, str(project / watched_path)), watched_path
    for ignored in ("static/old.css", "notes.txt", "README.md"):
        assert not accepts(Change.modified, str(project / ignored)), ignored
