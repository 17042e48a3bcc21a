"""In-process cost of Engine.respond: a revalidating page (LMDB miss, then stored) vs a prerendered one.

    python -P bench/respond_time.py [--calls 20000] [--parts]

No server, no sockets: times the engine's answer alone (best of 5 runs), one CPU.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = '''
from perseus import PerseusApp, Template

BODY = "<h1>Hello</h1><p>" + "A paragraph of a prerendered page. " * 20 + "</p>"


async def page_state(info):
    return {"path": info.path}


app = PerseusApp(templates=[
    Template("index", view=lambda ctx, s: BODY),
    Template("stored", view=lambda ctx, s: BODY, build_state=page_state, revalidate_after="1y"),
])
'''


def per_call_us(respond: object, path: str, calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            respond("GET", path, {})  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--parts", action="store_true", help="also time the steps of a stored page")
    args = parser.parse_args()
    calls = args.calls
    work = Path(tempfile.mkdtemp(prefix="perseus-respond-bench-"))
    try:
        (work / "bench_app.py").write_text(APP)
        subprocess.run([sys.executable, "-P", "-m", "perseus", "build"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "PERSEUS_APP": "bench_app:app",
                                                       "PYTHONPATH": str(work)})
        sys.path.insert(0, str(work))
        os.chdir(work)
        from perseus.turbine.engine import open_engine

        app = importlib.import_module("bench_app").app
        engine = open_engine(app, work / "dist")
        respond = engine.respond
        records = engine.runtime.records
        assert records is not None
        print(f"prerendered page:                     {per_call_us(respond, '/', calls):.2f} µs")
        print(f"revalidating page, nothing in LMDB:   {per_call_us(respond, '/stored', calls):.2f} µs")
        # A stored version (as a revalidation would write), not yet due.
        version = _version(engine)
        records.put(version)
        assert records.get(version.locale, version.path) is not None
        print(f"revalidating page, version in LMDB:   {per_call_us(respond, '/stored', calls):.2f} µs")
        if args.parts:
            _parts(engine, version)
        engine.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _parts(engine, version):  # type: ignore[no-untyped-def]
    import timeit

    from perseus.turbine.pages import HTML, PageRequest
    from perseus.turbine.revalidation import send_version
    from perseus_core.plan import BUILT_PAGE, plan
    records = engine.runtime.records
    page = _stored_page(engine)
    key = page.ref.key
    request = PageRequest("GET", page.url, {}, "", page, HTML)
    n = 100000
    for name, fn in [("records.get", lambda: records.get(version.locale, version.path, key)),
                     ("store.read", lambda: records.store.read(key)),
                     ("plan", lambda: plan(BUILT_PAGE, page.flags, version.meta, time.time())),
                     ("send_version", lambda: send_version(engine.runtime, request, version)),
                     ("strategy", lambda: engine.strategies[page.kind](request))]:
        print(name, min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e6)


def _stored_page(engine):  # type: ignore[no-untyped-def]
    verdict, ident, locale = engine.router.resolve("/stored")
    return engine.table.page(max(locale, 0), ident)


def _version(engine: object):  # type: ignore[no-untyped-def]
    from perseus.stores.records import PageVersion

    page = _stored_page(engine)
    return PageVersion("stored", page.ref.locale, "stored", engine.dist.build_id, "g1",  # type: ignore[attr-defined]
                       time.time(), time.time() + 3600, b"<html>stored</html>", b"{}", b"{}", '"e1"', '"e2"',
                       [("content-type", "text/html; charset=utf-8")])


if __name__ == "__main__":
    main()
