"""Redis killed, restarted empty, and frozen with SIGSTOP while the site is under load.

The faults site serves with ``PERSEUS_STORE=redis://`` (two workers, LMDB in front as the
local cache). Through every phase, prerendered pages and pages already cached locally keep
answering fast (no request waits on Redis), and first requests for new incremental pages
are answered 200: generated, stored when Redis lets them be. After each outage, storing
resumes by itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import redis as redis_client

from faults.client import exchange, get, keep_sending
from faults.figures import Figures
from faults.mixed import Mixed
from faults.pages import generation_of, is_page
from faults.scale import scaled_seconds
from faults.servers import server_rss, serving, wait_for
from tests.conftest import Server
from tests.redis_server import RedisServer

PHASE_SECONDS = scaled_seconds(20, 4)
CONCURRENCY = 8
CACHED_PAGES = 20
# A blocking Redis call would stall for this long: well above FAST, so a stall cannot hide.
REDIS_TIMEOUT = 3.0
# Seconds a prerendered or locally cached page may take under this load: far below a stall.
FAST = 1.5
# New pages may wait on Redis (a read, then a write, each bounded by the Redis timeout).
BOUND = 4 * REDIS_TIMEOUT + 5
RESUME_BOUND = 30.0


def _subscribed(redis: RedisServer, workers: int = 2) -> None:
    """Wait (a while) until every worker listens for invalidations: a worker that starts
    listening drops the machine's local cache, which would make pages cached before it uncached."""
    client = redis_client.Redis.from_url(redis.url)
    try:
        def listening() -> bool:
            clients = client.client_list()
            return sum(1 for c in clients if int(c.get("sub", 0)) + int(c.get("psub", 0)) > 0) >= workers

        wait_for(listening, 10.0, pause=0.1)
    finally:
        client.close()


def _cache_pages(server: Server, redis: RedisServer, prefix: str) -> dict[str, str]:
    """New pages, each asked for twice: path -> generation stored (the second answer's)."""
    _subscribed(redis)
    cached = {}
    for n in range(CACHED_PAGES):
        path = f"/{'en-US' if n % 2 else 'fr-FR'}/post/{prefix}-{n}"
        answers = [asyncio.run(exchange(server.port, get(path), bound=BOUND)) for _ in range(2)]
        cached[path] = generation_of(answers[1].body) or ""
    return cached


def _stores(server: Server, name: str) -> bool:
    """Whether a new page is stored: its second request is answered the first one's version."""
    answers = [asyncio.run(exchange(server.port, get(f"/en-US/post/{name}"), bound=BOUND)) for _ in range(3)]
    generations = {generation_of(a.body) for a in answers}
    return all(is_page(a) for a in answers) and len(generations) == 1


def _phase(server: Server, mixed: Mixed) -> None:
    asyncio.run(keep_sending(server.port, mixed.next_request, seconds=PHASE_SECONDS, concurrency=CONCURRENCY,
                             bound=BOUND, seen=mixed.seen))


def test_redis_outages(site: Path, redis: RedisServer, figures: Figures) -> None:
    env = {"PERSEUS_STORE": redis.url, "PERSEUS_REDIS_TIMEOUT": str(REDIS_TIMEOUT)}
    problems: list[str] = []
    phases: list[tuple[str, Mixed]] = []
    with serving(site, workers=2, env=env) as server:
        figures.rss_start = server_rss(server)
        cached = _cache_pages(server, redis, "before")
        assert _stores(server, "stored-at-start"), "pages are not stored in Redis at all"

        assert redis.process is not None
        redis.process.kill()
        redis.process.wait()
        killed = Mixed(cached, prefix="killed")
        _phase(server, killed)
        phases.append(("killed", killed))
        problems += [f"Redis killed: {p}" for p in killed.problems(fast=FAST)]

        redis.start()  # empty: no persistence
        empty = Mixed({}, prefix="restarted")  # the local caches are dropped on reconnecting
        _phase(server, empty)
        phases.append(("restarted empty", empty))
        problems += [f"Redis restarted empty: {p}" for p in empty.problems(fast=FAST)]
        names = iter(range(10**6))
        if not wait_for(lambda: _stores(server, f"after-restart-{next(names)}"), RESUME_BOUND, pause=0.5):
            problems.append(f"storing did not resume within {RESUME_BOUND:g} s of Redis restarting")

        cached = _cache_pages(server, redis, "before-freeze")
        redis.process.send_signal(signal.SIGSTOP)
        try:
            frozen = Mixed(cached, prefix="frozen")
            _phase(server, frozen)
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        phases.append(("frozen", frozen))
        problems += [f"Redis frozen: {p}" for p in frozen.problems(fast=FAST)]
        if not wait_for(lambda: _stores(server, f"after-thaw-{next(names)}"), RESUME_BOUND, pause=0.5):
            problems.append(f"storing did not resume within {RESUME_BOUND:g} s of Redis thawing")
        figures.rss_end = server_rss(server)
    for name, mixed in phases:
        figures.add_requests(mixed.tally)
        figures.note(f"{name} ({PHASE_SECONDS:g} s): {mixed.report()}")
    assert not problems, "\n".join(problems)
