"""``perseus serve`` and its port: a port in use stops it with a message naming the port and
what to do (granian's SO_REUSEPORT would otherwise let two servers split the traffic
silently), ``--reuse-port`` / ``PERSEUS_REUSE_PORT=1`` shares it on purpose (a rolling
restart, tests/test_serve_lifecycle.py), and ``PORT``/``HOST`` are honoured when the
``PERSEUS_*`` variables are unset. Real granian on loopback."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, free_port, perseus

SITE = '''\
import os

from perseus import PerseusApp, Template

app = PerseusApp(templates=[Template("index", view=lambda ctx, state: f"<p>{os.getpid()}</p>")])
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("port") / "site"
    project.mkdir()
    (project / "app.py").write_text(SITE)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def running(site: Path) -> Iterator[Server]:
    server = Server(site)
    yield server
    server.close()


def serve(site: Path, *args: str, **env: str) -> tuple[int, str]:
    done = perseus("serve", "--no-build", *args, cwd=site, env=env, check=False, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_a_second_server_on_a_port_in_use_refuses_to_start(site: Path, running: Server) -> None:
    code, said = serve(site, "--port", str(running.port))
    assert code == 1
    assert f"port {running.port} on 127.0.0.1 is already in use" in said
    assert "--reuse-port" in said and "PERSEUS_PORT" in said
    assert "Listening" not in said  # granian never started
    assert running.get("/").status_code == 200


def test_a_port_held_by_another_kind_of_listener_is_refused_too(site: Path) -> None:
    for reuse_port in (False, True):  # a plain server, and one that allows sharing like granian
        with socket.socket() as listener:
            if reuse_port:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            code, said = serve(site, "--port", str(port))
        assert code == 1 and f"port {port} on 127.0.0.1 is already in use" in said


def test_an_ipv6_port_in_use_is_refused(site: Path) -> None:
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code, said = serve(site, "--host", "::1", "--port", str(port))
    assert code == 1 and f"port {port} on ::1 is already in use" in said


def test_reuse_port_shares_the_port_on_purpose(site: Path, running: Server) -> None:
    for opt_in in ({"command": ["--reuse-port"]}, {"env": {"PERSEUS_REUSE_PORT": "1"}}):
        command = [sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--port", str(running.port),
                   *opt_in.get("command", [])]
        second = Server(site, port=running.port, command=command,
                        env={**os.environ, **opt_in.get("env", {})})
        try:
            assert second.process.poll() is None and second.get("/").status_code == 200
        finally:
            second.close()
    assert running.get("/").status_code == 200


def test_port_and_host_are_honoured_when_the_perseus_variables_are_unset(site: Path) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in ("PERSEUS_PORT", "PERSEUS_HOST")}
    server = Server(site, port=port, command=[sys.executable, "-P", "-m", "perseus", "serve", "--no-build"],
                    env={**env, "PORT": str(port), "HOST": "127.0.0.1"})
    try:
        assert server.get("/").status_code == 200
        assert f"serving http://127.0.0.1:{port}" in server.log.read_text()
    finally:
        server.close()
    # PERSEUS_PORT wins over PORT.
    other = free_port()
    server = Server(site, port=other, command=[sys.executable, "-P", "-m", "perseus", "serve", "--no-build"],
                    env={**env, "PORT": str(port), "PERSEUS_PORT": str(other)})
    try:
        assert server.get("/").status_code == 200
    finally:
        server.close()
