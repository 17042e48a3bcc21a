"""Read-only filesystems (STORE-08): build-time and request-state sites run; others say what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Server, copy_example, perseus

# Runs the command with the project directory (argument $0) mounted read-only, in a
# private mount namespace: nothing outside the test sees the mount.
READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'

BUILD_TIME_AND_REQUEST_STATE = '''
from perseus import PerseusApp, Template

def hello(info, request):
    return {"name": request.query.get("name", "you")}

app = PerseusApp(templates=[
    Template("index", view=lambda ctx, s: f"<h1>{s['n']} built</h1>", build_state=lambda info: {"n": 3}),
    Template("hello", view=lambda ctx, s: f"<p>hi {s['name']}</p>", request_state=hello),
])
'''


def read_only(project: Path) -> list[str]:
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", READ_ONLY, str(project)]


@pytest.fixture(scope="module", autouse=True)
def _mount_namespaces() -> None:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("a read-only mount needs mount namespaces (run as root, as CI does)")


def test_a_site_without_revalidation_or_incremental_runs_read_only(tmp_path: Path) -> None:
    project = tmp_path / "site"
    project.mkdir()
    (project / "app.py").write_text(BUILD_TIME_AND_REQUEST_STATE)
    perseus("build", cwd=project)
    server = Server(project, wrapper=read_only(project))
    try:
        assert "<h1>3 built</h1>" in server.get("/").text
        assert "<p>hi Ann</p>" in server.get("/hello?name=Ann").text
    finally:
        server.close()
    assert not (project / "dist" / "mutable").exists()


def test_revalidation_on_a_read_only_location_fails_at_start_up_with_a_way_out(tmp_path: Path) -> None:
    project = copy_example("strategies", tmp_path)
    perseus("build", cwd=project)
    started = subprocess.run(
        [*read_only(project), sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--port", "1"],
        cwd=project, capture_output=True, text=True, timeout=60,
    )
    assert started.returncode != 0
    for name in ("'clock'", "'news'", "'flaky'", "'post'", "PERSEUS_MUTABLE_DIR", "not writable"):
        assert name in started.stderr, started.stderr
    assert "Traceback" not in started.stderr

    elsewhere = tmp_path / "writable-store"
    server = Server(project, wrapper=read_only(project),
                    env={"PERSEUS_MUTABLE_DIR": str(elsewhere), "STRATEGIES_LOG": str(tmp_path / "log")})
    try:
        assert server.get("/clock").status_code == 200
        assert "<h1>Post fresh</h1>" in server.get("/post/fresh").text
    finally:
        server.close()
    assert (elsewhere / "data.mdb").exists()
