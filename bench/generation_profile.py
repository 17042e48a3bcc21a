"""Where a first generation's time goes: the engine in-process, a real LMDB in a temp dir, no HTTP.

    python -P bench/generation_profile.py [--pages 2000] [--profile]

Times ``Engine.respond`` for ``--pages`` new incremental paths of the 50-item Jinja2
catalogue page (bench/request_paths.py's site) against the view alone rendering it, and
with ``--profile`` prints cProfile's top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import request_paths  # noqa: E402


async def _generate(respond: object, pages: int, prefix: str) -> float:
    started = time.perf_counter()
    for n in range(pages):
        answer = respond("GET", f"/gen/{prefix}-{n}", {})  # type: ignore[operator]
        if not hasattr(answer, "status"):
            answer = await answer
        assert answer.status == 200, answer
    return (time.perf_counter() - started) / pages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perseus-generation-profile-") as tmp:
        site = request_paths._site(Path(tmp))
        sys.path.insert(0, str(site))
        os.chdir(site)
        from perseus.turbine.engine import open_engine

        shared = importlib.import_module("shared")
        engine = open_engine(importlib.import_module("app").app, site / "dist")
        respond = engine.respond
        started = time.perf_counter()
        for _ in range(args.pages):
            shared.catalog_view(None, shared.STATE)
        render_us = (time.perf_counter() - started) / args.pages * 1e6
        loop = asyncio.new_event_loop()
        loop.run_until_complete(_generate(respond, 50, "warm"))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
        generate_us = loop.run_until_complete(_generate(respond, args.pages, "run"))
        if args.profile:
            profiler.disable()
        print(f"view alone: {render_us:.0f} µs; first generation through Engine.respond: {generate_us:.0f} µs"
              f" ({render_us / generate_us:.2f}x)")
        if args.profile:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        engine.close()
        loop.close()


if __name__ == "__main__":
    main()
