"""One worker of two killed with SIGKILL under load: the server keeps serving (issue 10, item 3).

The dead worker is replaced; no request fails beyond those that were in flight on it
(at most one per connection of the load), and the server has two workers again.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from faults.client import keep_sending
from faults.figures import Figures
from faults.mixed import Mixed
from faults.scale import scaled_seconds
from faults.servers import server_rss, serving, wait_for, workers_of
from tests.conftest import Server

LOAD_SECONDS = scaled_seconds(30, 6)
CONCURRENCY = 8
BOUND = 10.0
RESPAWN_BOUND = 15.0


async def _load_with_a_kill(server: Server, mixed: Mixed) -> int:
    """Run the load, killing one worker a third of the way through; the pid killed."""
    victim = workers_of(server)[0]

    async def kill_later() -> None:
        await asyncio.sleep(LOAD_SECONDS / 3)
        os.kill(victim, 9)

    await asyncio.gather(kill_later(), keep_sending(server.port, mixed.next_request, seconds=LOAD_SECONDS,
                                                    concurrency=CONCURRENCY, bound=BOUND, seen=mixed.seen))
    return victim


def test_one_worker_killed_under_load(site: Path, figures: Figures) -> None:
    with serving(site, workers=2) as server:
        figures.rss_start = server_rss(server)
        mixed = Mixed({}, prefix="worker-kill")
        started = time.monotonic()
        victim = asyncio.run(_load_with_a_kill(server, mixed))
        alive = server.process.poll() is None
        respawned = alive and wait_for(
            lambda: len(workers_of(server)) == 2 and victim not in workers_of(server), RESPAWN_BOUND)
        figures.rss_end = server_rss(server) if alive else None
        log = server.log.read_text()
    figures.add_requests(mixed.tally)
    failed = sum(len(kind.failed) for kind in mixed.kinds.values())
    figures.note(f"{time.monotonic() - started:.0f} s of load, worker {victim} killed at a third;"
                 f" {failed} requests failed; server alive after: {alive}; replaced: {respawned};"
                 f" {mixed.report()}")
    problems = mixed.tally.problems()
    if failed > CONCURRENCY:
        problems.append(f"{failed} requests failed; at most {CONCURRENCY} were in flight on the killed"
                        " worker")
    if not alive:
        problems.append(f"the server exited when one worker died; its log ends:\n{log[-600:]}")
    elif not respawned:
        problems.append(f"the killed worker was not replaced within {RESPAWN_BOUND:g} s")
    assert not problems, "\n".join(problems)
