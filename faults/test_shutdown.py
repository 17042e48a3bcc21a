"""SIGTERM to the server (issue 10, item 4): in-flight requests answered, idle connections no wait.

SIGTERM goes to the server's main process only, as a container runtime sends it. With
requests in flight (an async request-state page that takes a while), every one of them is
answered whole and the server exits 0; with only idle keep-alive connections open, it exits
0 at once; with user code that never returns, it still exits within
``PERSEUS_SHUTDOWN_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

from faults.client import HOST, Answer, exchange, request
from faults.figures import Figures
from faults.pages import is_page
from faults.scale import scaled
from faults.servers import serving
from faults.tally import Tally
from tests.conftest import Server

IN_FLIGHT = 50
IDLE = 20
# On main the outcome varied from run to run (all 50 in-flight requests failed in one of
# several; once the exit waited 24 s on idle connections): each case runs several times.
ROUNDS = scaled(5, 2)
SLOW = 2.0  # seconds the in-flight page takes
# How long after SIGTERM the server may take to exit: the in-flight work plus a margin.
EXIT_BOUND = SLOW + 8.0
PROMPT = 3.0  # with nothing in flight
SHUTDOWN_TIMEOUT = 3.0


def _exit_after_sigterm(server: Server, bound: float) -> tuple[int | None, float]:
    """SIGTERM to the main process; its exit code (None: still running after ``bound``) and
    how long it took."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        code: int | None = server.process.wait(bound)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - started


async def _in_flight(server: Server, path: str, count: int, bound: float,
                     idle: int = 0) -> tuple[list[Answer], int | None, float]:
    """``count`` requests for ``path`` (half of them keep-alive) in flight at SIGTERM, beside
    ``idle`` idle keep-alive connections; the answers, the exit code and how long it took."""
    writers = await _idle_connections(server, idle)
    answers = asyncio.gather(*(exchange(server.port, request("GET", path, close=n % 2 == 0), bound=bound + 5)
                               for n in range(count)))
    await asyncio.sleep(0.5)  # every request has reached its worker
    try:
        code, took = await asyncio.to_thread(_exit_after_sigterm, server, bound)
        return await answers, code, took
    finally:
        for writer in writers:
            writer.close()


def test_sigterm_with_requests_in_flight(site: Path, figures: Figures) -> None:
    tally = Tally()
    problems = []
    exits = []
    for _ in range(ROUNDS):
        with serving(site, workers=2, env={"FAULTS_SITE_SLOW": str(SLOW)}) as server:
            answers, code, took = asyncio.run(_in_flight(server, "/en-US/slow", IN_FLIGHT, EXIT_BOUND,
                                                         idle=IDLE))
        for answer in answers:
            tally.add(answer)
        whole = sum(is_page(answer) for answer in answers)
        exits.append(f"{code} after {took:.1f} s")
        if whole < IN_FLIGHT:
            problems.append(f"{IN_FLIGHT - whole} of {IN_FLIGHT} requests in flight were not answered whole,"
                            f" exit {code} after {took:.1f} s: {[a.status or a.error for a in answers]}")
        if code != 0:
            problems.append(f"exit code {code} {took:.1f} s after SIGTERM (bound {EXIT_BOUND:g} s)")
    figures.add_requests(tally)
    figures.note(f"{ROUNDS} rounds of {IN_FLIGHT} requests of {SLOW:g} s in flight at SIGTERM, {IDLE} idle"
                 f" keep-alive connections beside them:"
                 f" {tally.summary()}; exits: {', '.join(exits)}")
    assert not tally.problems() + problems, "\n".join(tally.problems() + problems)


async def _idle_connections(server: Server, count: int) -> list[asyncio.StreamWriter]:
    """``count`` connections that each had one keep-alive answer and now sit idle."""
    writers = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(request("GET", "/en-US/about", close=False))
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
    return writers


def test_sigterm_with_idle_keep_alive_connections(site: Path, figures: Figures) -> None:
    exits = []
    problems = []
    for _ in range(ROUNDS):
        with serving(site, workers=2) as server:
            async def scenario(server: Server = server) -> tuple[int | None, float]:
                writers = await _idle_connections(server, IDLE)
                try:
                    return await asyncio.to_thread(_exit_after_sigterm, server, EXIT_BOUND)
                finally:
                    for writer in writers:
                        writer.close()

            code, took = asyncio.run(scenario())
        exits.append(f"{code} after {took:.1f} s")
        if code != 0 or took > PROMPT:
            problems.append(f"exit code {code} {took:.1f} s after SIGTERM with only idle connections"
                            f" (bound {PROMPT:g} s)")
    figures.requests = IDLE * ROUNDS
    figures.note(f"{ROUNDS} rounds of {IDLE} idle keep-alive connections at SIGTERM:"
                 f" exits {', '.join(exits)}")
    assert not problems, "\n".join(problems)


def test_sigterm_with_hung_user_code(site: Path, figures: Figures) -> None:
    env = {"FAULTS_SITE_HANG": "1", "PERSEUS_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT)}
    with serving(site, workers=1, env=env) as server:
        bound = SHUTDOWN_TIMEOUT + 8
        answers, code, took = asyncio.run(_in_flight(server, "/en-US/hang-sync", 3, bound))
    figures.requests = len(answers)
    figures.hangs = sum(answer.hung for answer in answers)
    figures.note(f"3 hung requests at SIGTERM (PERSEUS_SHUTDOWN_TIMEOUT={SHUTDOWN_TIMEOUT:g}):"
                 f" exit code {code} after {took:.1f} s; answers {[a.status for a in answers]}")
    assert code is not None, f"the server had not exited {bound:g} s after SIGTERM"
    assert figures.hangs == 0, "a hung request was left open after the server exited"
