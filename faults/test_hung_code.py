"""User code that never returns: sync and async request state, and an incremental first request.

With ``FAULTS_SITE_HANG=1`` the faults site's ``hang-sync`` (a sync ``request_state`` blocked
in ``time.sleep``), ``hang-async`` (an async one awaiting forever) and ``stuck/hang*`` (a sync
build state of an incremental first request) never return. Two waves of such requests go
to one worker, while other pages are asked for. Issue 10, item 2, wants:

- each hung request answered 504 through the error view once ``PERSEUS_REQUEST_TIMEOUT``
  has passed (not before, and not long after), or, for sync code whose pool is full,
  503 with ``Retry-After`` at once;
- prerendered, stored and async request-state pages, and new incremental pages (async
  build state), answered 200 without waiting; a sync request-state page 200, or 503 with
  ``Retry-After`` at once while hung calls fill its pool.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faults.client import Answer, exchange, get, keep_sending
from faults.figures import Figures
from faults.mixed import Mixed
from faults.pages import generation_of, is_page
from faults.scale import scaled
from faults.servers import serving
from faults.tally import Tally, intended_500

REQUEST_TIMEOUT = 2.0
HUNG_PER_WAVE = scaled(40, 12)
# Hung incremental first requests: fewer than a worker's concurrent generations (8 by
# default), so that other first requests need not wait for a free one.
STUCK_PER_WAVE = 4
# How late past the timeout a 504 may come, and how long an answer "at once" may take.
SLACK = 5.0
FAST = 1.5
CONCURRENCY = 6
HUNG = ["/en-US/hang-sync", "/fr-FR/hang-async"]


def _hung_problem(answer: Answer) -> str | None:
    """What is wrong with the answer to a hung request, if anything."""
    sync = b"hang-async" not in answer.target
    if answer.status == 504:
        if b'id="faults-error">504<' not in answer.body:
            return "a 504 without the error view"
        if not REQUEST_TIMEOUT - 0.1 <= answer.seconds <= REQUEST_TIMEOUT + SLACK:
            return f"a 504 after {answer.seconds:.1f} s (timeout {REQUEST_TIMEOUT:g} s)"
        return None
    if sync and answer.status == 503 and "retry-after" in answer.headers and answer.seconds <= FAST:
        return None
    return f"{answer.status} after {answer.seconds:.1f} s"


def _intended(answer: Answer) -> bool:
    return answer.status in (503, 504) or intended_500(answer)


def _sync_page_problem(answer: Answer) -> str | None:
    """What is wrong with the answer to a sync request-state page beside hung ones, if anything."""
    if answer.seconds > FAST:
        return f"{answer.status} after {answer.seconds:.1f} s"
    if is_page(answer) or (answer.status == 503 and "retry-after" in answer.headers):
        return None
    return f"{answer.status}"


async def _scenario(port: int, others: Mixed, sync_pages: list[Answer],
                    async_pages: list[Answer]) -> list[Answer]:
    hung: list[Answer] = []
    bound = REQUEST_TIMEOUT + SLACK + 5

    async def wave(number: int) -> None:
        targets = [HUNG[n % 2] for n in range(HUNG_PER_WAVE - STUCK_PER_WAVE)]
        targets += [f"/en-US/stuck/hang-{number}-{n}" for n in range(STUCK_PER_WAVE)]
        hung.extend(await asyncio.gather(*(exchange(port, get(t), bound=bound) for t in targets)))

    async def request_state_pages() -> None:
        while not done.is_set():
            sync_pages.append(await exchange(port, get("/en-US/greet-sync?name=Ann"), bound=bound))
            async_pages.append(await exchange(port, get("/fr-FR/greet?name=Ann"), bound=bound))
            await asyncio.sleep(0.05)

    done = asyncio.Event()
    waves = asyncio.gather(wave(1), asyncio.sleep(REQUEST_TIMEOUT + 1))
    checker = asyncio.create_task(request_state_pages())
    await asyncio.sleep(0.3)  # the hung calls have started
    await keep_sending(port, others.next_request, seconds=REQUEST_TIMEOUT * 2 + 2, concurrency=CONCURRENCY,
                       bound=bound, seen=others.seen)
    await waves
    await wave(2)  # the hung threads of wave 1 may still fill the pool
    done.set()
    await checker
    return hung


def test_hung_user_code(site: Path, figures: Figures) -> None:
    env = {"FAULTS_SITE_HANG": "1", "PERSEUS_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT)}
    with serving(site, workers=1, env=env) as server:
        cached = {}
        for n in range(10):
            path = f"/en-US/post/kept-{n}"
            answers = [asyncio.run(exchange(server.port, get(path), bound=10)) for _ in range(2)]
            cached[path] = generation_of(answers[1].body) or ""
        others = Mixed(cached, weights=(0.4, 0.4, 0.2), prefix="beside-hung")
        sync_pages: list[Answer] = []
        async_pages: list[Answer] = []
        hung = asyncio.run(_scenario(server.port, others, sync_pages, async_pages))
        async_pages.append(asyncio.run(exchange(server.port, get("/en-US/greet?name=Ann"), bound=10)))
    hung_tally, sync_tally, async_tally = Tally(intended=_intended), Tally(intended=_intended), Tally()
    for tally, answers in ((hung_tally, hung), (sync_tally, sync_pages), (async_tally, async_pages)):
        for answer in answers:
            tally.add(answer)
        figures.add_requests(tally)
    figures.add_requests(others.tally)
    figures.note(f"hung requests: {hung_tally.summary()}")
    figures.note(f"others: {others.report()}; sync request state: {sync_tally.summary()};"
                 f" async request state: {async_tally.summary()}")
    problems = others.problems(fast=FAST)
    problems += hung_tally.problems() + sync_tally.problems() + async_tally.problems()
    wrong = [(a.target.decode(), problem) for a in hung if (problem := _hung_problem(a))]
    if wrong:
        problems.append(f"{len(wrong)} of {len(hung)} hung requests were not answered 504 past the timeout"
                        f" (or 503 + Retry-After at once), e.g. {wrong[:4]}")
    sync_wrong = [problem for a in sync_pages if (problem := _sync_page_problem(a))]
    if sync_wrong:
        problems.append(f"{len(sync_wrong)} of {len(sync_pages)} sync request-state pages beside the hung"
                        f" ones waited or failed, e.g. {sync_wrong[:3]}")
    async_wrong = [(a.status, round(a.seconds, 2)) for a in async_pages if not is_page(a) or a.seconds > FAST]
    if async_wrong:
        problems.append(f"{len(async_wrong)} of {len(async_pages)} async request-state pages beside the hung"
                        f" ones waited or failed, e.g. {async_wrong[:3]}")
    assert not problems, "\n".join(problems)
