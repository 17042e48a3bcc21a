"""Build scale: peak memory and wall time of ``perseus build`` for a site of many Jinja2 pages.

Each page is the ~11 KB catalogue page (``sites.jinja_of_catalog``: 50 items in a Jinja2
loop), rendered from its build state. The build runs with ``PERSEUS_BUILD_WORKERS=1`` and
``=2`` side by side; its peak RSS is the highest sum over its process tree, sampled from
/proc every 20 ms (GNU time's maximum is one process's, not the pool's).

    python bench/build_scale.py [pages] [--baseline PYTHON]

``pages`` defaults to 20,000; ``--baseline`` also builds with another installed perseus (the
python of its venv, e.g. one with main installed) in its one process, to compare with.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import procstat

SAMPLE_EVERY = 0.02

APP = '''
from perseus import PerseusApp, Template

ITEMS = [{{"slug": f"item-{{i:02d}}", "title": f"Item {{i:02d}}: a product with a fairly descriptive name",
          "price": f"{{10 + i}}.99"}} for i in range(50)]


def item_paths():
    return [str(i) for i in range({count})]


async def item_state(info):
    return {{"title": f"Catalogue {{info.path}}", "items": ITEMS}}


app = PerseusApp(templates=[Template("item", template="item.html", build_paths=item_paths,
                                     build_state=item_state)])
'''

ITEM = ('<li class="item"><a href="/items/{{ item.slug }}">{{ item.title }}</a> '
        '<span class="price">${{ item.price }}</span> <span class="note">in stock, '
        'ships within two working days from our warehouse</span></li>')
TEMPLATE = ('<header><h1>{{ state.title }}</h1><p>Everything we sell, in one list.</p></header>'
            '<nav><a href="/">Home</a> <a href="/catalog">Catalogue</a> <a href="/about">About</a> '
            '<a href="/contact">Contact</a></nav><main><ul class="items">{% for item in state["items"] %}'
            + ITEM + '{% endfor %}</ul></main>'
            '<footer><p>Example shop, 1 Example Street. All prices include VAT.</p></footer>')


def write_site(root: Path, pages: int) -> Path:
    site = root / f"jinja-{pages}"
    (site / "templates").mkdir(parents=True)
    (site / "app.py").write_text(APP.format(count=pages))
    (site / "templates" / "item.html").write_text(TEMPLATE)
    return site


def measure_build(site: Path, workers: int | None, python: str = sys.executable) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes, summed over the process tree) of one build."""
    env = dict(os.environ)
    if workers is not None:  # None: a perseus that has no such setting
        env["PERSEUS_BUILD_WORKERS"] = str(workers)
    started = time.perf_counter()
    process = subprocess.Popen([python, "-P", "-m", "perseus", "build", "--routes", "templates"],
                               cwd=site, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, procstat.rss_bytes(process.pid))
            time.sleep(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output = process.communicate()[0].decode()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"perseus build failed:\n{output}")
    return seconds, peak


def main() -> None:
    arguments = sys.argv[1:]
    baseline = None
    if "--baseline" in arguments:
        at = arguments.index("--baseline")
        baseline = arguments[at + 1]
        del arguments[at : at + 2]
    pages = int(arguments[0]) if arguments else 20_000
    with tempfile.TemporaryDirectory() as work:
        site = write_site(Path(work), pages)
        print(f"{pages:,} pages of the Jinja2 catalogue page; load average {os.getloadavg()[0]:.2f}")
        runs: list[tuple[str, int | None, str]] = []
        if baseline:
            runs.append(("baseline, 1 process", None, baseline))
        runs += [("1 worker", 1, sys.executable), ("2 workers", 2, sys.executable)]
        results = {}
        for name, workers, python in runs:
            seconds, peak = measure_build(site, workers, python)
            results[name] = seconds
            page = (site / "dist" / "pages.bin").stat().st_size / pages
            print(f"  {name:20} {seconds:6.1f} s, peak RSS {peak / 2**20:6.0f} MiB (tree),"
                  f" {page / 1024:.1f} KB of bodies per page")
        print(f"  2 workers vs 1: {results['1 worker'] / results['2 workers']:.2f}x;"
              f" load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
