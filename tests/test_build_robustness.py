"""``perseus build`` under kills, concurrent builds and state functions that never return."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from perseus.stores.immutable import read_build_id
from tests.conftest import Server, perseus

# HANG=sync|async: the state of /slow never returns; SLOW=<s>: it takes that long, after
# writing started.txt; BREAK=1: the state of /slow raises.
SITE = '''\
import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from perseus import PerseusApp, Template

HERE = Path(__file__).parent
HANG = os.environ.get("HANG", "")


def sync_state(info):
    (HERE / "started.txt").write_text("yes")
    if os.environ.get("BREAK") == "1":
        raise ValueError("broken on purpose")
    time.sleep(float(os.environ.get("SLOW", "0")))
    while HANG == "sync":
        time.sleep(1)
    return {"build": os.environ.get("LABEL", "first")}


async def async_state(info):
    while HANG == "async":
        await asyncio.sleep(1)
    return {}


app = PerseusApp(templates=[
    Template("slow", view=lambda ctx, state: "<h1>" + state["build"] + "</h1>", build_state=sync_state),
    Template("other", view=lambda ctx, state: "other", build_state=async_state),
])
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(SITE)
    perseus("build", cwd=tmp_path)
    return tmp_path


@contextmanager
def serving(project: Path) -> Iterator[Server]:
    server = Server(project)
    try:
        yield server
    finally:
        server.close()


def start_build(project: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-P", "-m", "perseus", "build"], cwd=project, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **env})


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def leftovers(project: Path) -> list[str]:
    return sorted(p.name for p in project.iterdir() if p.name.startswith(".dist.") and p.is_dir())


def test_a_build_killed_midway_leaves_the_previous_dist_served_and_the_next_cleans_up(project: Path) -> None:
    first = read_build_id(project / "dist")
    # What builds killed while writing or swapping leave behind: a half-written directory
    # and a previous build not yet removed.
    (project / ".dist.building-20260101000000-dead").mkdir()
    (project / ".dist.building-20260101000000-dead" / "pages.bin").write_bytes(b"partial")
    shutil.copytree(project / "dist", project / ".dist.old-20260101000000-beef")
    (project / "started.txt").unlink()
    build = start_build(project, HANG="sync", LABEL="second")
    try:
        wait_for(project / "started.txt")
        with serving(project) as server:
            assert "<h1>first</h1>" in server.get("/slow").text
            os.kill(build.pid, signal.SIGKILL)
            build.wait(timeout=10)
            assert "<h1>first</h1>" in server.get("/slow").text
    finally:
        if build.poll() is None:
            build.kill()
        build.communicate()
    assert read_build_id(project / "dist") == first
    perseus("build", cwd=project, env={"LABEL": "third"})
    assert leftovers(project) == []
    assert read_build_id(project / "dist") != first
    with serving(project) as server:
        assert "<h1>third</h1>" in server.get("/slow").text


def test_a_dist_lost_between_the_two_renames_of_a_swap_is_put_back(project: Path) -> None:
    first = read_build_id(project / "dist")
    # Where no atomic exchange exists, a kill between the swap's two renames leaves this.
    (project / "dist").rename(project / f".dist.old-{first}")
    (project / ".dist.building-20990101000000-cafe").mkdir()  # the new one, never swapped in
    failed = perseus("build", cwd=project, env={"BREAK": "1"}, check=False)
    assert failed.returncode == 1
    assert "was left as it was" in failed.stderr
    assert read_build_id(project / "dist") == first
    assert leftovers(project) == []


def test_two_concurrent_builds_both_finish_and_leave_one_valid_dist(project: Path) -> None:
    (project / "started.txt").unlink()
    # SLOW: the second build must start and reach the lock while the first holds it; on a
    # loaded 2-core machine a Python start-up alone took over a second.
    one = start_build(project, SLOW="4", LABEL="one")
    try:
        wait_for(project / "started.txt")  # the first build holds the lock now
        two = start_build(project, LABEL="two")
        try:
            out_two, _ = two.communicate(timeout=60)
        finally:
            if two.poll() is None:
                two.kill()
        out_one, _ = one.communicate(timeout=60)
    finally:
        if one.poll() is None:
            one.kill()
            one.communicate()
    assert one.returncode == 0, out_one
    assert two.returncode == 0, out_two
    assert "waiting for another build" in out_two
    assert leftovers(project) == []
    with serving(project) as server:
        assert "<h1>two</h1>" in server.get("/slow").text  # the later build is served


@pytest.mark.parametrize("hang", ["sync", "async"])
def test_a_state_function_that_never_returns_fails_the_build_after_the_timeout(
        project: Path, hang: str) -> None:
    first = read_build_id(project / "dist")
    result = perseus("build", cwd=project, env={"HANG": hang, "PERSEUS_BUILD_TIMEOUT": "1"},
                     check=False, timeout=60)
    assert result.returncode == 1
    template = "slow" if hang == "sync" else "other"
    assert f"template '{template}', path '': build_state raised BuildTimeout: build_state did not" \
           " finish within 1 s" in result.stderr
    assert read_build_id(project / "dist") == first


def test_a_bad_build_timeout_is_refused(project: Path) -> None:
    result = perseus("build", cwd=project, env={"PERSEUS_BUILD_TIMEOUT": "soon"}, check=False)
    assert result.returncode == 1
    assert "PERSEUS_BUILD_TIMEOUT must be a positive number of seconds, got 'soon'" in result.stderr
