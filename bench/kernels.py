"""Kernel micro-benchmark: each compiled kernel against its pure twin, side by side.

Run inside a venv where perseus is installed (never from the source tree):

    python -P bench/kernels.py [--repeats 7]

Each kernel's twins run in alternation on the same inputs, chunk by chunk, and
each keeps its best time of N rounds per chunk, so load from other tenants of the
machine moves both alike. Results are checked equal before anything is timed. Prints one markdown
table of ns per operation and the compiled/pure ratio.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import orjson

import perseus_core
from perseus_core import _escape_py, _paths_py, _routing_py, _shell_py

TEMPLATES = 1_000
PATHS = 10_000
# Inputs timed per pass; the twins alternate pass by pass (as in the toolchain spike).
CHUNK = 10_000
Kernel = tuple[Callable[[Any], object], Callable[[Any], object], Sequence[Any]]


def compiled_twin(name: str) -> ModuleType:
    """The Cython build of kernel ``name``; refuses to measure the source tree's pure copy."""
    try:
        return importlib.import_module(f"perseus_core._{name}_c")
    except ImportError:
        raise SystemExit(f"perseus_core._{name}_c is not installed: run with -P in a venv where perseus "
                         "is installed compiled (the source tree has no compiled modules)") from None


def routing_workload(rng: random.Random) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """1,000 templates (one in five incremental) with 10,000 built pages, and
    10,000 request paths: 70% built pages, 20% unbuilt incremental, 10% misses."""
    pages: dict[str, int] = {}
    incremental: dict[str, int] = {}
    for t in range(TEMPLATES):
        name = f"blog-{t}" if t % 3 else f"docs/section-{t}"
        pages[name] = len(pages)
        if t % 5 == 0:
            incremental[name] = t
    names = list(pages)
    while len(pages) < PATHS:
        pages[f"{rng.choice(names)}/article-{rng.randrange(10**6)}"] = len(pages)
    built = list(pages)
    growing = list(incremental)
    requests = []
    for _ in range(PATHS):
        roll = rng.random()
        if roll < 0.7:
            requests.append("/" + rng.choice(built))
        elif roll < 0.9:
            requests.append(f"/{rng.choice(growing)}/new-{rng.randrange(10**6)}/x")
        else:
            requests.append(f"/missing-{rng.randrange(1000)}/page")
    return pages, incremental, requests


def state_json(rng: random.Random) -> bytes:
    """A realistic page state of about 7 KB, some of it with characters to escape."""
    items = [{"id": i, "title": f"Post <{i}> & friends", "tags": ["a", "b"], "score": rng.random(),
              "body": "Grüße " * 10} for i in range(40)]
    return orjson.dumps({"items": items, "meta": {"page": 1, "next": None}})


def kernels() -> list[tuple[str, Callable[[Any], object], Callable[[Any], object], Sequence[Any]]]:
    """(name, pure twin, compiled twin, inputs) for each kernel measured."""
    rng = random.Random(2026)
    escape_c, paths_c, routing_c, shell_c = map(compiled_twin, ("escape", "paths", "routing", "shell"))
    pages, incremental, requests = routing_workload(rng)
    routers = (_routing_py.Router(pages, incremental), routing_c.Router(pages, incremental))
    locales = ["en-US", "fr-FR", "de-DE"]
    localised = [f"/{rng.choice(locales)}{p}" for p in requests]
    i18n = (_routing_py.Router(pages, incremental, locales), routing_c.Router(pages, incremental, locales))
    texts = ["plain text without specials", "Tom & Jerry <b>\"quoted\"</b> 'x'", "Grüße " * 100]
    state = state_json(rng)
    scripts = '<script src="/.perseus/client.js"></script>'
    shells = [twin.Shell(_shell_py.DEFAULT_DOCUMENT, scripts) for twin in (_shell_py, shell_c)]
    # NOTE: distinct ASCII strings, as each page's content is; the compiled twin
    # reads ASCII in place, and for other text CPython caches the UTF-8 on the str.
    paragraphs = "<p>Lorem ipsum dolor sit amet.</p>" * 200
    contents = [f"<article>{i}{paragraphs}</article>" for i in range(50)]

    def pair(function: str, pure: ModuleType, compiled: ModuleType, inputs: Sequence[Any]) -> Kernel:
        return getattr(pure, function), getattr(compiled, function), inputs

    def old_api(router: Any, twin: ModuleType) -> Callable[[str], object]:
        return lambda path: router.match(twin.normalize_path(path))

    def page(document: Any) -> Callable[[str], bytes]:
        return lambda content: document.page("en-US", "<title>x</title>", content, state)

    return [
        ("routing: resolve (1k templates, 10k paths)", routers[0].resolve, routers[1].resolve, requests),
        ("routing: resolve with 3 locales", i18n[0].resolve, i18n[1].resolve, localised),
        ("routing: normalize_path + match (old API)",
         old_api(routers[0], _paths_py), old_api(routers[1], paths_c), requests),
        ("paths: normalize_path", *pair("normalize_path", _paths_py, paths_c, requests)),
        ("escape: escape_html", *pair("escape_html", _escape_py, escape_c, texts * 100)),
        ("escape: escape_script_json (7 KB)",
         *pair("escape_script_json", _escape_py, escape_c, [state] * 50)),
        ("shell: page (7 KB of ASCII content)", page(shells[0]), page(shells[1]), contents),
    ]


def check_equal(pure: Callable[[Any], object], compiled: Callable[[Any], object],
                inputs: Sequence[Any]) -> None:
    """Insist that both twins give the same results before timing them."""
    if list(map(pure, inputs)) != list(map(compiled, inputs)):
        raise SystemExit("compiled and pure kernels disagree")


def best_times(twins: Sequence[Callable[[Any], object]], inputs: Sequence[Any], repeats: int) -> list[float]:
    """ns per operation of each twin: the sum over chunks of the inputs of each
    chunk's best time in ``repeats`` rounds, the twins alternating chunk by chunk.

    NOTE: with short chunks (say 500) each twin starts with caches its sibling
    just filled; routing then measures about 3.5x instead of 5-6x, as the table
    misses cost both twins the same nanoseconds.
    """
    chunks = [inputs[i : i + CHUNK] for i in range(0, len(inputs), CHUNK)]
    best = [[float("inf")] * len(chunks) for _ in twins]
    for _ in range(repeats):
        for c, chunk in enumerate(chunks):
            for t, twin in enumerate(twins):
                start = time.perf_counter_ns()
                # PERF: map() drained into a zero-length deque: the least harness overhead.
                deque(map(twin, chunk), maxlen=0)
                best[t][c] = min(best[t][c], time.perf_counter_ns() - start)
    return [sum(times) / len(inputs) for times in best]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="rounds per kernel; the best is kept")
    args = parser.parse_args(argv)
    print(f"perseus_core {perseus_core.implementation()} on Python {sys.version.split()[0]}\n")
    print("| kernel | pure ns/op | compiled ns/op | compiled speed-up |")
    print("| --- | ---: | ---: | ---: |")
    for name, pure, compiled, inputs in kernels():
        check_equal(pure, compiled, inputs)
        pure_ns, compiled_ns = best_times((pure, compiled), inputs, args.repeats)
        print(f"| {name} | {pure_ns:,.0f} | {compiled_ns:,.0f} | {pure_ns / compiled_ns:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
