"""The servers compared, each one granian worker pinned to CPU 0 in its own process tree."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import procstat

BENCH_DIR = Path(__file__).resolve().parent
SERVER_CPU = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(port: int, path: str, timeout: float = 5) -> tuple[int, list[tuple[str, str]], bytes]:
    """One GET on a fresh connection: status, headers (lower-case names) and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, [(k.lower(), v) for k, v in answer.getheaders()], answer.read()
    finally:
        connection.close()


class ServerProcess:
    """A server started under ``taskset``; ``started_at``..``ready_at`` is its time to first 200."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
                 ready_path: str = "/", log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        argv = [arg.replace("{port}", str(self.port)) for arg in argv]
        self.log = log_dir / f"{name.replace(' ', '_').replace('/', '_')}.log"
        self._log_file = open(self.log, "w")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), *argv], cwd=cwd, stdout=self._log_file,
            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True,
        )
        self.ready_at = self._wait_for_200(ready_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _wait_for_200(self, path: str, timeout: float = 60) -> float:
        deadline = self.started_at + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log.read_text()}")
            try:
                if fetch(self.port, path, timeout=2)[0] == 200:
                    return time.perf_counter()
            except OSError:
                pass
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"{self.name} gave no 200 on {path} within {timeout}s:\n{self.log.read_text()}")

    def cpu_seconds(self) -> float:
        return procstat.cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        return procstat.rss_bytes(self.pid)

    def pss_bytes(self) -> int:
        return procstat.pss_bytes(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


def perseus_server(name: str, site: Path, log_dir: Path, *, pure: bool = False,
                   ready_path: str = "/") -> ServerProcess:
    """``perseus serve --no-build`` on a built site; ``pure`` forces PERSEUS_NO_EXTENSIONS=1."""
    env = {"PERSEUS_NO_EXTENSIONS": "1"} if pure else {"PERSEUS_NO_EXTENSIONS": ""}
    # Like the raw granian it is compared with (--no-access-log); request_time.py measures the log.
    env["PERSEUS_ACCESS_LOG"] = "0"
    return ServerProcess(name, [sys.executable, "-P", "-m", "perseus", "serve", "--no-build",
                                "--port", "{port}", "--workers", "1"],
                         cwd=site, env=env, ready_path=ready_path, log_dir=log_dir)


def _granian(interface: str, target: str) -> list[str]:
    return [sys.executable, "-P", "-m", "granian", "--interface", interface, "--workers", "1",
            "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", target]


def raw_server(spec: Path, log_dir: Path, ready_path: str) -> ServerProcess:
    """The bare RSGI app of raw_app.py serving the bytes described by ``spec``."""
    return ServerProcess("raw granian", _granian("rsgi", "raw_app:app"), cwd=log_dir,
                         env={"PYTHONPATH": str(BENCH_DIR), "BENCH_RAW_SPEC": str(spec)},
                         ready_path=ready_path, log_dir=log_dir)


def starlette_server(static_dir: Path, template_dir: Path, log_dir: Path, ready_path: str) -> ServerProcess:
    """starlette_app.py: StaticFiles over ``static_dir`` and Jinja2 over ``template_dir``."""
    return ServerProcess("starlette", _granian("asgi", "starlette_app:app"), cwd=log_dir,
                         env={"PYTHONPATH": str(BENCH_DIR), "BENCH_STATIC_DIR": str(static_dir),
                              "BENCH_TEMPLATE_DIR": str(template_dir)},
                         ready_path=ready_path, log_dir=log_dir)
