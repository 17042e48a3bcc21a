"""A bounded raw-request fuzz over every route kind of the faults site (issue 10, item 9).

Malformed request lines, odd methods, long, encoded and dot-segment paths, bad headers,
bad escapes and UTF-8, sent byte for byte to granian with two workers. A user would call
any of these a failure: a 5xx other than the site's intended one, a request neither
answered nor closed within the bound, a byte of a canary file (planted beside the served
roots) or of a system file in an answer, a stack trace in a body, a worker that died.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from faults.client import Answer, exchange, get, run_all
from faults.figures import Figures
from faults.fuzz import Fuzzed, RequestMaker
from faults.scale import scaled
from faults.servers import server_rss, serving, workers_of
from faults.tally import Tally

REQUESTS = scaled(20_000, 200)
CONCURRENCY = 16
# Seconds: granian drops a client whose headers take 10 s; nothing should take longer.
BOUND = 15.0
SEED = 10  # the fuzz is the same on every run; change it to explore
# What a bad path may get: 400 by the contract, or granian's own refusals of a long URL or head.
REFUSED = (400, 414, 431)


def test_fuzz(site: Path, figures: Figures) -> None:
    tally = Tally()
    not_400: list[Answer] = []

    def seen(request: Fuzzed, answer: Answer) -> None:
        tally.add(answer)
        if request.bad_path and answer.status not in (None, *REFUSED):
            not_400.append(answer)

    with serving(site, workers=2) as server:
        workers = workers_of(server)
        figures.rss_start = server_rss(server)
        asyncio.run(run_all(server.port, RequestMaker(SEED).requests(REQUESTS), concurrency=CONCURRENCY,
                            bound=BOUND, seen=seen))
        figures.rss_end = server_rss(server)
        after = asyncio.run(_answer(server.port))
        still_workers = workers_of(server)
    figures.add_requests(tally)
    figures.note(tally.summary())
    figures.note(f"outcomes: {dict(tally.outcomes)}")
    problems = tally.problems()
    if not_400:
        samples = "; ".join(f"{a.status} {a.request[:100]!r}" for a in not_400[:5])
        statuses = Counter(a.status for a in not_400)
        problems.append(f"{len(not_400)} paths with a bad escape, invalid UTF-8 or a control character"
                        f" were not refused with 400 ({dict(statuses)}), e.g. {samples}")
    if after != 200:
        problems.append(f"after the fuzz /en-US/about answered {after}")
    if still_workers != workers:
        problems.append(f"workers died during the fuzz: {workers} became {still_workers}")
    assert len(set(workers)) == 2
    assert not problems, "\n".join(problems)


async def _answer(port: int) -> int | None:
    return (await exchange(port, get("/en-US/about"), bound=BOUND)).status
