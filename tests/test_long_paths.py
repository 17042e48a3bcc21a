"""Long paths through granian on examples/strategies, a site with an incremental template.

Issue 10: routing hashed every prefix of the path down to "" (a 64 KB path cost 210-323 ms
of event-loop time, for a 404), and the example answered 500 for a slug over 255 bytes
(its CMS flags are files named after the slug). The operation count of routing is
asserted in test_kernels.py; here the whole server answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, build_example
from tests.strategies import generations, stored_records

KB_64 = 65_000  # granian answers 414 from about 65,500 bytes of request target


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example("strategies", tmp_path_factory.mktemp("long"))


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    server = Server(site)  # no STRATEGIES_GENERATION_DELAY: generating costs what the code does
    yield server
    server.close()


UNSTORABLE = ["a" * 248, "a" * 256, "a" * 300, "é" * 130, "/".join(["b" * 200] * 30), "x/y"]


@pytest.mark.parametrize("slug", UNSTORABLE, ids=lambda s: f"{len(s.encode())}-bytes")
def test_slugs_the_example_cannot_store_are_404_and_nothing_is_stored(server: Server, site: Path,
                                                                        slug: str) -> None:
    before = stored_records(site)
    for target in (f"/post/{slug}", f"/.perseus/page/xx-XX/post/{slug}.json"):
        answer = server.get(target)
        assert answer.status_code == 404, (target[:60], answer.status_code)
        assert "Traceback" not in answer.text
    assert stored_records(site) == before
    assert generations(site, "post", slug) == []
    assert "File name too long" not in server.log.read_text()


def test_the_longest_slug_that_fits_is_generated(server: Server, site: Path) -> None:
    slug = "a" * (255 - len(".deleted"))
    assert server.get(f"/post/{slug}").status_code == 200
    assert len(generations(site, "post", slug)) == 1


LONG_PATHS = [
    "/" + "a/" * (KB_64 // 2),                # outside every template: 404
    "/post/" + "a/" * (KB_64 // 2),           # below the incremental template: the example's 404
    "/post/" + "a" * KB_64,                   # one long segment below it: the same
    "/.perseus/page/xx-XX/" + "a/" * (KB_64 // 2) + ".json",
]


def test_a_64_kb_path_costs_about_what_a_short_one_does(server: Server) -> None:
    """Before, the 30 quadratic ones of these 40 requests took over 6 s (220 ms each); now
    all 40 take about 0.1 s, against 0.015 s for 40 short paths. The bound (ten times the
    short paths' cost, plus a second) is far from both."""
    def cost(paths: list[str]) -> float:
        started = time.perf_counter()
        for path in paths:  # raw: httpx refuses URLs over 64 KB
            assert server.raw_get(path.encode())[0] == 404, path[:40]
        return time.perf_counter() - started

    cost(["/nothing"] * 5 + LONG_PATHS)  # warm: connections, error pages
    rounds = 10
    short_paths = ["/post/missing-a", "/nothing", "/post/missing-b", "/.perseus/page/xx-XX/nothing.json"]
    short = cost(short_paths * rounds)
    long = cost(LONG_PATHS * rounds)
    assert long < 10 * short + 1.0, (long, short)
