"""64 KB paths on a site with incremental templates: answered promptly, and nothing else waits.

Routing must cost at most linear time in the path's length for every template kind (issue
10, item 3); on main it is quadratic (every prefix of the path is hashed), so ten 60 KB
requests at once held one worker's event loop for over a second. The paths go to one
worker: below an incremental template, outside any template, and as page data.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faults.client import Answer, exchange, get
from faults.figures import Figures
from faults.scale import scaled
from faults.servers import serving
from faults.tally import Tally

# 64 kB: with the request line and headers it stays under 64 KiB, past which granian answers 414.
LENGTH = 64_000
ROUNDS = scaled(20, 4)
AT_ONCE = 10
# Generous: a linear router answers a 64 KB path in milliseconds, ten at once well within it.
BOUND = 1.0
SHORT = "/en-US/about"


def long_paths() -> list[str]:
    def padded(prefix: str, segment: str, suffix: str = "") -> str:
        count = (LENGTH - len(prefix) - len(suffix)) // len(segment)
        return prefix + segment * count + suffix

    return [padded("/en-US/post/", "a/"), padded("/en-US/", "b/"), padded("/en-US/post/", "c"),
            padded("/.perseus/page/en-US/post/", "d/", ".json"), padded("/fr-FR/stuck/", "e/"),
            padded("/en-US/nope/", "%41/")]


async def _rounds(port: int, long: Tally, short: Tally) -> None:
    paths = long_paths()
    for number in range(ROUNDS):
        batch = [paths[(number + n) % len(paths)] for n in range(AT_ONCE)]
        answers: list[Answer] = await asyncio.gather(
            *(exchange(port, get(path), bound=10) for path in batch),
            *(exchange(port, get(SHORT), bound=10) for _ in range(3)))
        for answer in answers[:AT_ONCE]:
            long.add(answer)
        for answer in answers[AT_ONCE:]:
            short.add(answer)


def test_64_kb_paths(site: Path, figures: Figures) -> None:
    long, short = Tally(), Tally()
    with serving(site, workers=1) as server:
        asyncio.run(_rounds(server.port, long, short))
    figures.add_requests(long)
    figures.add_requests(short)
    figures.note(f"{AT_ONCE} paths of {LENGTH // 1000} kB at once, {ROUNDS} rounds: {long.summary()};"
                 f" {SHORT} beside them: {short.summary()}")
    problems = long.problems() + short.problems()
    if long.slowest > BOUND:
        problems.append(f"a 64 kB path took {long.slowest:.2f} s among {AT_ONCE} at once (bound {BOUND:g} s)")
    if short.slowest > BOUND:
        problems.append(f"{SHORT} took {short.slowest:.2f} s beside them (bound {BOUND:g} s)")
    if 414 in long.statuses:
        problems.append("granian refused the long paths (414): they never reached the router")
    if set(short.statuses) != {200}:
        problems.append(f"{SHORT} answered {dict(short.statuses)}")
    assert not problems, "\n".join(problems)
