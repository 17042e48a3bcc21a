"""A served site through its lifecycle, against real granian on loopback: a worker killed
under load is replaced, SIGTERM answers what is in flight and exits 0 within
``PERSEUS_SHUTDOWN_TIMEOUT``, and a rolling restart on the same port loses no request."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, perseus
from tests.processes import children, wait_for

# Worker processes stopped, started or killed: their pids and exit codes differ by run.
LIFECYCLE_APP = '''\
import asyncio
import os
import threading
import uuid
from pathlib import Path

from perseus import PerseusApp, Template

ARRIVALS = Path(os.environ.get("LIFECYCLE_ARRIVALS", os.devnull))
GENERATIONS = Path(os.environ.get("LIFECYCLE_GENERATIONS", os.devnull))
REGENERATION_SECONDS = float(os.environ.get("LIFECYCLE_REGENERATION_SECONDS", "0"))


def arrived(name):
    with open(ARRIVALS, "a") as log:
        log.write(f"{name} {os.getpid()}\\n")


async def slow(info, request):
    arrived("slow")
    await asyncio.sleep(float(request.query.get("s", "1")))
    return {"pid": os.getpid()}


async def hang(info, request):
    arrived("hang")
    await asyncio.Event().wait()


def hang_sync(info, request):
    arrived("hang-sync")
    threading.Event().wait()


async def report(info):
    await asyncio.sleep(REGENERATION_SECONDS)
    gen = uuid.uuid4().hex
    with open(GENERATIONS, "a") as log:
        log.write(gen + "\\n")
    return {"pid": os.getpid(), "gen": gen}


def view(ctx, state):
    return f"<p id=pid>{state['pid']}</p><p id=gen>{state.get('gen', '')}</p>"


app = PerseusApp(templates=[
    Template("index", view=lambda ctx, state: "<h1>Lifecycle</h1>"),
    Template("who", view=view, request_state=lambda info, request: {"pid": os.getpid()}),
    Template("slow", view=view, request_state=slow),
    Template("hang", view=view, request_state=hang),
    Template("hangsync", view=view, request_state=hang_sync),
    Template("report", view=view, build_state=report, revalidate_after="1h"),
])
'''
# Generous bounds only a real defect crosses (the machine is shared): how long a server
# may take past its PERSEUS_SHUTDOWN_TIMEOUT, and to answer again after losing a worker.
EXIT_MARGIN = 5.0
RESPAWN_WITHIN = 30.0
CLIENTS = 4


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("lifecycle") / "site"
    project.mkdir()
    (project / "app.py").write_text(LIFECYCLE_APP)
    perseus("build", cwd=project)
    return project


@pytest.fixture
def arrivals(tmp_path: Path) -> Path:
    return tmp_path / "arrivals.log"


def start(site: Path, arrivals: Path, workers: int = 1, **env: str) -> Server:
    return Server(site, workers=workers, env={"LIFECYCLE_ARRIVALS": str(arrivals), **env})


def arrived(arrivals: Path, name: str) -> int:
    lines = arrivals.read_text().splitlines() if arrivals.exists() else []
    return sum(line.split()[0] == name for line in lines)


def pid_of(response: httpx.Response) -> int:
    return int(response.text.split("<p id=pid>")[1].split("<")[0])


def wait_until_answered_by(url: str, workers: set[int]) -> None:
    """Request ``/who`` on new connections until each of ``workers`` has answered one."""
    seen: set[int] = set()

    def all_seen() -> bool:
        seen.add(pid_of(httpx.get(f"{url}/who", headers={"connection": "close"})))
        return workers <= seen

    wait_for(all_seen, RESPAWN_WITHIN, f"an answer from each of the workers {sorted(workers)}")


def stop(server: Server, number: int = signal.SIGTERM) -> tuple[int, float]:
    """Signal the server's main process alone (as Kubernetes or ``docker stop`` do); its exit
    code and how long it took to exit."""
    started = time.monotonic()
    server.process.send_signal(number)
    code = server.process.wait(60)
    return code, time.monotonic() - started


@dataclass
class Load:
    """Clients requesting in a loop, each on its own keep-alive connection, one request at a time."""

    url: str
    path: str = "/"
    retry_unanswered: bool = False
    ok: int = 0
    retried: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)  # (started at, error)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                error = self._one(client)
                with self._lock:
                    if error is None:
                        self.ok += 1
                    else:
                        self.failures.append((started, error))
                time.sleep(0.002)  # bounded: a few hundred requests a second per client

    def _one(self, client: httpx.Client) -> str | None:
        for attempt in (1, 2):
            try:
                response = client.get(self.path)
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # NOTE: closed before any byte of an answer: RFC 9110 9.2.2 lets a client
                # send an idempotent request again, as browsers and proxies do.
                if self.retry_unanswered and attempt == 1:
                    with self._lock:
                        self.retried += 1
                    continue
                return f"{type(exc).__name__}: {exc}"
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {exc}"
            return None if response.status_code == 200 else f"status {response.status_code}"
        return None  # unreachable: the second attempt returns


def test_a_killed_worker_is_replaced_while_the_other_keeps_serving(site: Path, arrivals: Path) -> None:
    server = start(site, arrivals, workers=2)
    try:
        first = children(server.process.pid)
        assert len(first) == 2
        with Load(server.url) as load:
            time.sleep(1.5)
            victim = min(first)
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            time.sleep(2.5)
        print(f"requests: {load.ok + len(load.failures)}, failed: {len(load.failures)}")
        # Only the requests in flight on the killed worker can fail: at most one per client,
        # all started before it died.
        assert len(load.failures) <= CLIENTS, load.failures
        assert all(started < killed_at + 0.5 for started, _ in load.failures), load.failures
        assert load.ok > 500
        wait_for(lambda: len(children(server.process.pid)) == 2, RESPAWN_WITHIN, "two workers again")
        now = children(server.process.pid)
        assert victim not in now and (first - {victim}) <= now
        wait_until_answered_by(server.url, now - first)  # the replacement serves
        log = server.log.read_text()
        assert "Unexpected exit from worker-" in log and "Respawning worker-" in log
        assert server.process.poll() is None
    finally:
        server.close()


def test_sigterm_answers_every_request_in_flight_then_exits_0(site: Path, arrivals: Path) -> None:
    server = start(site, arrivals, workers=2)
    in_flight = 30
    with ThreadPoolExecutor(in_flight) as pool:
        def one(_: int) -> int | str:
            try:
                return httpx.get(f"{server.url}/slow?s=1", timeout=30).status_code
            except httpx.HTTPError as exc:
                return type(exc).__name__

        answers = pool.map(one, range(in_flight))
        wait_for(lambda: arrived(arrivals, "slow") == in_flight, 20, "every request in user code")
        code, took = stop(server)
        statuses = list(answers)
    server.close()
    print(f"in flight: {in_flight}, answered 200: {statuses.count(200)}, exit {code} after {took:.2f}s")
    assert statuses == [200] * in_flight
    assert code == 0
    assert took < 8 + EXIT_MARGIN  # the default PERSEUS_SHUTDOWN_TIMEOUT, and a margin


def test_idle_keep_alive_connections_do_not_hold_a_stopping_server(site: Path, arrivals: Path) -> None:
    timeout = 6
    server = start(site, arrivals, workers=2, PERSEUS_SHUTDOWN_TIMEOUT=str(timeout))
    clients = [httpx.Client(base_url=server.url) for _ in range(20)]
    try:
        for client in clients:
            assert client.get("/").status_code == 200  # each keeps its connection open, idle
        code, took = stop(server)
    finally:
        for client in clients:
            client.close()
        server.close()
    print(f"idle keep-alive connections: 20, exit {code} after {took:.2f}s")
    assert code == 0
    assert took < timeout  # closed at the end of the drain, not waited for


def test_a_request_head_never_finished_is_cut_at_the_shutdown_timeout(site: Path, arrivals: Path) -> None:
    timeout = 2  # shorter than granian's header read timeout (10 s), which would end it too
    server = start(site, arrivals, PERSEUS_SHUTDOWN_TIMEOUT=str(timeout))
    half_sent = socket.create_connection(("127.0.0.1", server.port))
    try:
        half_sent.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the headers never end
        time.sleep(0.3)
        code, took = stop(server)
    finally:
        half_sent.close()
        server.close()
    print(f"a half-sent request head: exit {code} after {took:.2f}s")
    assert code == 0
    assert took < timeout + EXIT_MARGIN


@pytest.mark.parametrize("path", ["/hang", "/hangsync"])
def test_a_request_whose_code_hangs_is_cut_at_the_shutdown_timeout(
    site: Path, arrivals: Path, path: str
) -> None:
    timeout = 2
    server = start(site, arrivals, PERSEUS_SHUTDOWN_TIMEOUT=str(timeout))
    with ThreadPoolExecutor(2) as pool:
        def get(target: str) -> int | str:
            try:
                return httpx.get(f"{server.url}{target}", timeout=60).status_code
            except httpx.HTTPError as exc:
                return type(exc).__name__

        hung = pool.submit(get, path)
        wait_for(lambda: arrived(arrivals, path.strip("/").replace("sync", "-sync")) == 1, 20,
                 "the request in user code")
        slow = pool.submit(get, "/slow?s=0.5")
        wait_for(lambda: arrived(arrivals, "slow") == 1, 20, "the slow request in user code")
        code, took = stop(server)
        outcomes = hung.result(), slow.result()
    log = server.log.read_text()
    server.close()
    print(f"{path}: exit {code} after {took:.2f}s, answers {outcomes}")
    assert code == 0
    assert took < timeout + EXIT_MARGIN
    assert outcomes[1] == 200  # the request that could finish did
    assert outcomes[0] != 200
    assert f"PERSEUS_SHUTDOWN_TIMEOUT ({timeout}s) is over with 1 request(s) still running user code" in log


def test_a_regeneration_under_way_at_sigterm_is_stored(site: Path, arrivals: Path, tmp_path: Path) -> None:
    generations = tmp_path / "generations.log"
    env = {"LIFECYCLE_GENERATIONS": str(generations), "LIFECYCLE_REGENERATION_SECONDS": "1.5"}
    server = start(site, arrivals, **env)
    built = pid_and_gen(server.get("/report"))[1]
    perseus("revalidate", "/report", cwd=site)
    assert pid_and_gen(server.get("/report"))[1] == built  # stale: answered, regenerating
    time.sleep(0.3)
    code, _ = stop(server)
    server.close()
    assert code == 0
    regenerated = generations.read_text().split()
    assert len(regenerated) == 1  # finished while the server stopped
    again = start(site, arrivals, **env)
    try:
        assert pid_and_gen(again.get("/report"))[1] == regenerated[0]
    finally:
        again.close()


def pid_and_gen(response: httpx.Response) -> tuple[int, str]:
    return pid_of(response), response.text.split("<p id=gen>")[1].split("<")[0]


def test_a_draining_server_closes_keep_alive_connections_after_each_answer(
    site: Path, arrivals: Path
) -> None:
    server = start(site, arrivals)
    try:
        with httpx.Client(base_url=server.url) as client:
            assert "connection" not in client.get("/").headers
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.2)  # within the drain: still answering
            answer = client.get("/")
            assert answer.status_code == 200 and answer.headers["connection"] == "close"
        assert server.process.wait(30) == 0
    finally:
        server.close()


@pytest.fixture
def release(site: Path, tmp_path: Path) -> Path:
    """A second copy of the built site, as a new release directory would be."""
    return Path(shutil.copytree(site, tmp_path / "release"))


def test_a_rolling_restart_on_the_same_port_loses_no_request(
    site: Path, release: Path, arrivals: Path
) -> None:
    old = start(site, arrivals, workers=2)
    new: Server | None = None
    try:
        with Load(old.url, path="/who", retry_unanswered=True) as load:
            time.sleep(1)
            # granian's listeners use SO_REUSEPORT: a second server started with the opt-in
            # (it refuses a port in use otherwise) binds the same port.
            new = Server(release, workers=2, port=old.port,
                         env={"LIFECYCLE_ARRIVALS": str(arrivals), "PERSEUS_REUSE_PORT": "1"})
            started = new
            wait_for(lambda: len(children(started.process.pid)) == 2, RESPAWN_WITHIN, "the new workers")
            wait_until_answered_by(old.url, children(new.process.pid))
            code, took = stop(old)
            time.sleep(1)
        print(f"requests: {load.ok + len(load.failures)}, lost: {len(load.failures)},"
              f" sent again after an unanswered close: {load.retried}; old server exit {code}"
              f" after {took:.2f}s")
        assert load.failures == []
        assert code == 0
        assert load.ok > 500
        assert new.process.poll() is None and new.get("/").status_code == 200
    finally:
        old.close()
        if new is not None:
            new.close()


def test_sigint_stops_like_sigterm(site: Path, arrivals: Path) -> None:
    server = start(site, arrivals)
    try:
        code, took = stop(server, signal.SIGINT)
    finally:
        server.close()
    assert code == 0 and took < 8 + EXIT_MARGIN
