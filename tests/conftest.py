"""Fixtures that start real things: a built site served by granian on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from perseus.testing import TestClient

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# The committed export of examples/basic (tests/test_export.py says how to regenerate it).
GOLDEN_EXPORT = REPO / "tests" / "golden" / "export-basic"


# The file that takes longest (test_deploy.py: a compile and four installs from wheels, a
# third of the suite's time) is collected first, so that a pytest-xdist worker starts on it
# at once while the others share the rest, rather than the run ending on it alone.
LONGEST_FIRST = ("test_deploy.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONGEST_FIRST)  # stable: order kept otherwise


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative POSIX path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


_BUILD_ID = re.compile(rb'"build":"\d{14}-[0-9a-f]{8}"')


def runtime_hash_spelled_out(body: bytes) -> bytes:
    """``body`` with the client runtime's hashed URL as tests/golden spells it (RUNTIME_HASH),
    so that a change of the runtime needs no new golden tree, and the build id as BUILD_ID."""
    from perseus.client import runtime_path

    body = body.replace(runtime_path().encode(), b"/.perseus/client.RUNTIME_HASH.js")
    return _BUILD_ID.sub(b'"build":"BUILD_ID"', body)  # a new one each build


def golden_form(files: dict[str, bytes]) -> dict[str, bytes]:
    """An export's files as tests/golden holds them: without the client runtime, which is
    checked against the installed one here (at both of its names), its hash spelled out."""
    from perseus.client import runtime, runtime_path

    files = dict(files)
    for name in (".perseus/client.js", runtime_path().lstrip("/")):
        assert files.pop(name) == runtime(), name
    return {name: runtime_hash_spelled_out(body) for name, body in files.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def perseus(*args: str, cwd: Path, env: dict[str, str] | None = None,
            check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed ``perseus`` CLI in ``cwd``."""
    result = subprocess.run(
        [sys.executable, "-P", "-m", "perseus", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"perseus {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


class Server:
    """``perseus serve`` running in a subprocess, answering on ``url``."""

    def __init__(self, project: Path, *, workers: int = 1, env: dict[str, str] | None = None,
                 interface: str = "rsgi", wrapper: list[str] | None = None,
                 command: list[str] | None = None, port: int | None = None, cwd: Path | None = None) -> None:
        """``wrapper`` runs ``perseus serve`` inside another command (a mount namespace...);
        ``command`` replaces ``perseus serve``, and ``env`` then is the whole environment."""
        self.project = project
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (cwd or project) / f"server-{self.port}.log"
        self._log_file = open(self.log, "w")
        if command is None:
            command = [*(wrapper or []), sys.executable, "-P", "-m", "perseus", "serve", "--no-build",
                       "--port", str(self.port), "--workers", str(workers), "--interface", interface]
            env = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            command, cwd=cwd or project, stdout=self._log_file, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )
        self.client = httpx.Client(base_url=self.url, timeout=10)
        try:
            self._wait_until_ready()
        except BaseException:
            self.close()
            raise

    def _wait_until_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                self.client.get("/.perseus/client.js")
                return
            except (OSError, httpx.HTTPError):
                time.sleep(0.05)
        raise AssertionError(f"server did not answer within {timeout}s:\n{self.log.read_text()}")

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]

    def raw(self, request: bytes, timeout: float = 5) -> bytes:
        """Send bytes as they are (no client normalisation) and read the whole answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    def raw_get(self, target: bytes) -> tuple[int, bytes]:
        """GET ``target`` verbatim; returns the status and the body."""
        answer = self.raw(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status, _, body = split_answer(answer)
        return status, body

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self._log_file.close()


def split_answer(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    """A raw HTTP/1.1 answer as (status, lower-cased headers, body with chunking undone)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in lines)
    headers = {name.strip().lower(): value.strip() for name, _, value in fields}
    if headers.get("transfer-encoding") == "chunked":
        chunks = []
        while body:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            chunks.append(body[:size])
            body = body[size + 2:]
        body = b"".join(chunks)
    return int(status_line.split()[1]), headers, body


def copy_example(name: str, destination: Path) -> Path:
    """A copy of ``examples/<name>`` (without any dist/) to build and serve in isolation."""
    target = destination / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("dist", "__pycache__", "*.log"))
    return target


def build_example(name: str, parent: Path, env: dict[str, str] | None = None) -> Path:
    """A copy of ``examples/<name>`` in ``parent``, built (with ``env`` set)."""
    project = copy_example(name, parent)
    perseus("build", cwd=project, env=env)
    return project


@pytest.fixture(scope="session")
def basic_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/basic, copied and built once for the session."""
    project = copy_example("basic", tmp_path_factory.mktemp("basic"))
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="session")
def basic_server(basic_site: Path) -> Iterator[Server]:
    server = Server(basic_site)
    yield server
    server.close()


@pytest.fixture(scope="session")
def basic_client(basic_site: Path) -> Iterator[TestClient]:
    """The build of ``basic_site`` answered in-process (perseus.testing)."""
    with TestClient(basic_site, build=False) as client:
        yield client


@pytest.fixture(scope="session")
def escaping_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built site whose state, global state and head hold strings that break out of scripts."""
    from tests.sites import write_escaping_site

    project = tmp_path_factory.mktemp("escaping") / "site"
    write_escaping_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="session")
def escaping_server(escaping_site: Path) -> Iterator[Server]:
    server = Server(escaping_site)
    yield server
    server.close()


@pytest.fixture(scope="session")
def escaping_client(escaping_site: Path) -> Iterator[TestClient]:
    with TestClient(escaping_site, build=False) as client:
        yield client


@pytest.fixture(scope="session")
def i18n_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/i18n (en-US, fr-FR), built once for the session."""
    project = copy_example("i18n", tmp_path_factory.mktemp("i18n"))
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="session")
def i18n_server(i18n_site: Path) -> Iterator[Server]:
    server = Server(i18n_site)
    yield server
    server.close()


@pytest.fixture(scope="session")
def i18n_client(i18n_site: Path) -> Iterator[TestClient]:
    with TestClient(i18n_site, build=False) as client:
        yield client


CHROMIUM = "/usr/bin/chromium"  # Debian's package; never `playwright install`
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, launched once for the session."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def browser_page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    """A page in a fresh browser context; any script error on it fails the test."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page of its own in ``browser``; a script error on it fails the test."""
    with browser_page(browser) as page:
        yield page


T = TypeVar("T")


def run_in_thread(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(main())`` in a thread of its own: a browser test may hold this thread's loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(main())).result()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A redis-server of the module's own, for tests that stop, restart or freeze it."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis-own"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One redis-server for the session (tests flush it or use keys of their own)."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Redis Cluster of three masters for the session (tests flush it)."""
    from tests.redis_server import RedisCluster

    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.stop()
