"""Five minutes of mixed traffic on every route kind, with the server's memory sampled every 10 s.

Mostly ordinary requests (the fuzz's route kinds unmangled: prerendered, request state,
revalidating, incremental first and later requests, page data, static files, translations,
locale redirects), one in ten fuzzed. The same failures count as in the fuzz; memory must
not keep growing: the heap (anonymous RSS) at the end is within a generous bound of what
it was once warmed up.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from faults.client import Answer, get, keep_sending
from faults.figures import Figures, mebibytes
from faults.fuzz import RequestMaker
from faults.scale import scaled_seconds
from faults.servers import server_anonymous_rss, server_rss, serving
from faults.tally import Tally
from tests.conftest import Server

SOAK_SECONDS = scaled_seconds(300, 30)
SAMPLE_SECONDS = 10.0
CONCURRENCY = 8
BOUND = 15.0
FUZZED = 0.1
# Growth of the heap from the first sample after warm-up to the end that only a leak reaches.
GROWTH_BYTES = 64 << 20
GROWTH_RATIO = 0.5


async def _soak(server: Server, tally: Tally, samples: list[tuple[float, int, int]]) -> None:
    maker = RequestMaker(seed=21)

    def next_request() -> tuple[None, bytes]:
        if maker.rng.random() < FUZZED:
            fuzzed = maker.request()
            while fuzzed.half_close:  # a request cut short waits for the server's header timeout
                fuzzed = maker.request()
            return None, fuzzed.data
        return None, get(maker.target())

    def seen(label: None, answer: Answer) -> None:
        tally.add(answer)

    async def sample() -> None:
        started = time.monotonic()
        while time.monotonic() - started < SOAK_SECONDS:
            samples.append((time.monotonic() - started, server_rss(server), server_anonymous_rss(server)))
            await asyncio.sleep(SAMPLE_SECONDS)
        samples.append((time.monotonic() - started, server_rss(server), server_anonymous_rss(server)))

    await asyncio.gather(sample(), keep_sending(server.port, next_request, seconds=SOAK_SECONDS,
                                                concurrency=CONCURRENCY, bound=BOUND, seen=seen))


def test_soak(site: Path, figures: Figures) -> None:
    tally = Tally()
    samples: list[tuple[float, int, int]] = []
    with serving(site, workers=2) as server:
        asyncio.run(_soak(server, tally, samples))
        alive = server.process.poll() is None
    figures.add_requests(tally)
    figures.rss_start, figures.rss_end = samples[0][1], samples[-1][1]
    warm = samples[1] if len(samples) > 2 else samples[0]
    figures.note(f"{SOAK_SECONDS:g} s: {tally.summary()}")
    figures.note("RSS (anonymous) every 10 s: " + ", ".join(
        f"{mebibytes(rss)} ({mebibytes(anonymous)})" for _, rss, anonymous in samples))
    problems = tally.problems()
    growth = samples[-1][2] - warm[2]
    if growth > max(GROWTH_BYTES, GROWTH_RATIO * warm[2]):
        problems.append(f"the heap grew by {mebibytes(growth)} after warming up ({mebibytes(warm[2])} to"
                        f" {mebibytes(samples[-1][2])})")
    if not alive:
        problems.append("the server exited during the soak")
    assert not problems, "\n".join(problems)
