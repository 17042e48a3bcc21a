"""User code that hangs: 504 past PERSEUS_REQUEST_TIMEOUT, 503 when the pool is full, and
nothing else waits on it (issue 10, item 2). Through real granian, one worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, perseus

TIMEOUT = 1.0
# One request thread: 1 + 4 queued calls are admitted, the sixth is refused.
ENV = {"PERSEUS_REQUEST_TIMEOUT": str(TIMEOUT), "PERSEUS_REQUEST_THREADS": "1"}

APP = '''\
import asyncio
import os
import threading
import time
from pathlib import Path

from perseus import PerseusApp, Template, BuildPaths

HERE = Path(__file__).parent
RELEASE = threading.Event()


def hang_sync(info, request):
    RELEASE.wait(30)  # an upstream API that never answers
    return {"hung": False}


async def hang_async(info, request):
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        (HERE / "cancelled").write_text("yes")
        raise
    return {}


def quick(info, request):
    return {"n": 1}


async def quick_async(info, request):
    return {"n": 2}


def slow_first(info):
    if info.path.startswith("hang"):
        RELEASE.wait(30)
    return {"slug": info.path}


def slow_build(info):
    if (HERE / "hang-regeneration").exists():
        RELEASE.wait(30)
    return {"at": time.time()}


def view(ctx, state):
    return f"<p id=state>{state}</p>"


def timed_out(ctx, error):
    return f"<h1 id=error>{error.status} {error.message}</h1>"


app = PerseusApp(
    templates=[
        Template("hang-sync", view=view, request_state=hang_sync),
        Template("hang-async", view=view, request_state=hang_async),
        Template("quick", view=view, request_state=quick),
        Template("quick-async", view=view, request_state=quick_async),
        Template("about", view=view),
        Template("post", view=view, build_state=slow_first, incremental=True,
                 build_paths=lambda: BuildPaths(["built"])),
        Template("clock", view=view, build_state=slow_build, revalidate_after="1s",
                 build_paths=lambda: BuildPaths([str(n) for n in range(12)])),
    ],
    error_views={504: timed_out},
)
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("timeouts")
    (project / "app.py").write_text(APP)
    perseus("build", cwd=project)
    return project


@pytest.fixture
def server(site: Path) -> Iterator[Server]:
    """A fresh server per test: hung threads of one test must not fill the next one's pool."""
    running = Server(site, env=ENV)
    yield running
    running.close()


def test_hung_sync_state_answers_504_through_the_error_view_and_other_pages_do_not_wait(
        server: Server) -> None:
    with ThreadPoolExecutor(2) as pool:
        hung = pool.submit(server.get, "/hang-sync")
        time.sleep(0.2)  # the hung call holds the only request thread now
        # Prerendered and async pages never wait on the sync pool.
        started = time.monotonic()
        assert server.get("/about").status_code == 200
        assert server.get("/quick-async").status_code == 200
        assert time.monotonic() - started < TIMEOUT / 2
        answer = hung.result(timeout=TIMEOUT + 10)
    assert answer.status_code == 504
    assert "<h1 id=error>504 gateway timeout</h1>" in answer.text
    assert "Traceback" not in answer.text and "RELEASE" not in answer.text
    # The hung call still holds the only thread: the JSON request is refused, as JSON.
    page_data = server.get("/.perseus/page/xx-XX/hang-sync.json")
    assert page_data.status_code == 503 and page_data.json()["error"]["status"] == 503
    log = server.log.read_text()
    assert "PERSEUS_REQUEST_TIMEOUT" in log and "still running past their deadline" in log


def test_hung_async_state_is_cancelled_at_the_timeout(server: Server, site: Path) -> None:
    (site / "cancelled").unlink(missing_ok=True)
    started = time.monotonic()
    answer = server.get("/hang-async")
    assert answer.status_code == 504
    assert time.monotonic() - started < TIMEOUT + 5
    assert (site / "cancelled").read_text() == "yes"  # the coroutine saw its cancellation


def test_a_full_pool_answers_503_at_once_with_retry_after(server: Server) -> None:
    with ThreadPoolExecutor(6) as pool:
        hung = [pool.submit(server.get, "/hang-sync") for _ in range(5)]  # 1 running + 4 queued
        time.sleep(0.3)
        started = time.monotonic()
        refused = server.get("/quick")
        waited = time.monotonic() - started
        answers = [future.result(timeout=TIMEOUT * 6 + 10) for future in hung]
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert waited < TIMEOUT  # refused, not queued behind the hung calls
    # The running one times out; the queued ones are refused once no thread frees up.
    assert {a.status_code for a in answers} <= {503, 504}
    assert "answered 503" in server.log.read_text()


def test_work_queued_behind_a_hung_call_is_refused_soon_not_at_the_timeout(server: Server) -> None:
    with ThreadPoolExecutor(2) as pool:
        hung = pool.submit(server.get, "/hang-sync")  # holds the only thread
        time.sleep(0.2)
        started = time.monotonic()
        queued = server.get("/quick")
        waited = time.monotonic() - started
        assert hung.result(timeout=TIMEOUT + 10).status_code == 504
    assert queued.status_code == 503 and queued.headers["retry-after"] == "1"
    assert waited < TIMEOUT  # it would otherwise have waited out the request timeout


def test_a_hung_first_generation_answers_504_and_stores_nothing(server: Server) -> None:
    slug = f"hang-{uuid.uuid4().hex}"
    answer = server.get(f"/post/{slug}")
    assert answer.status_code == 504
    # Nothing was kept, and no lease left behind: another first request generates again
    # rather than waiting for a record that never comes (refused: the hung call holds the
    # only thread).
    assert server.get(f"/.perseus/page/xx-XX/post/{slug}.json").status_code == 503
    assert "waited too long for another worker" not in server.log.read_text()


def test_hung_regenerations_never_delay_request_state_pages(server: Server, site: Path) -> None:
    (site / "hang-regeneration").touch()
    try:
        time.sleep(1.1)  # every clock page is due now
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for n in range(12):  # 12 regenerations hang, beyond the 8 background threads
                assert client.get(f"/clock/{n}").status_code == 200  # stale, answered at once
            started = time.monotonic()
            for _ in range(5):
                assert client.get("/quick").status_code == 200
            assert time.monotonic() - started < TIMEOUT
    finally:
        (site / "hang-regeneration").unlink()
