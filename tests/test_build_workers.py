"""``perseus build`` in several processes (``PERSEUS_BUILD_WORKERS``): the same dist as one
process, every failure reported, timeouts and progress kept."""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest

from perseus.builder import build
from perseus.builder.build import build_site
from perseus.builder.workers import AUTO_PARALLEL_PAGES, AppSource, available_cores, pool_size
from perseus.loader import load_app
from perseus.settings import load_settings
from perseus.stores.lmdb_store import LMDBStore
from perseus.stores.records import PageRecords, PageVersion
from tests.conftest import perseus, run_in_thread, tree

APP = """\
import asyncio
import os
import time

from perseus import BuildPaths, Locales, PerseusApp, Template

FAIL = {path for path in os.environ.get("FAIL_PATHS", "").split(",") if path}
HANG = os.environ.get("HANG_PATH")
CRASH = os.environ.get("CRASH_PATH")


def item_paths():
    return BuildPaths([f"item-{i}" for i in range(60)], extra={"count": 60})


async def item_state(info):
    await asyncio.sleep(0)
    if info.path in FAIL:
        raise ValueError(f"no data for {info.path}")
    if info.path == CRASH:
        os.kill(os.getpid(), 9)  # as the kernel's OOM killer would
    n = int(info.path.split("-")[1])
    return {"title": f"Item {n} of {info.extra['count']}",
            "things": [{"name": f"thing {k}", "price": k * n} for k in range(20)]}


def news_state(info):
    if info.path == HANG:
        time.sleep(10)  # past PERSEUS_BUILD_TIMEOUT: abandoned in its worker's thread
    return {"title": f"News {info.path}"}


from perseus.plugins import Feed, Sitemap  # noqa: E402 (here, so that the lines above keep their numbers)

app = PerseusApp(
    templates=[
        Template("index", template="index.html"),
        Template("item", template="item.html", build_paths=item_paths, build_state=item_state),
        Template("news", template="item.html", build_paths=lambda: [f"n{i}" for i in range(8)],
                 build_state=news_state, revalidate_after="1h"),
        Template("post", template="item.html", build_paths=lambda: ["a", "b"],
                 build_state=lambda info: {"title": info.path}, incremental=True),
    ],
    error_views={404: "404.html"},
    global_state=lambda: {"site": "Workers <&>"},
    locales=Locales("en-US", ["fr-FR"]),
    static_dir="static",
    # A feed reads the item pages' states, which each worker sends back for it.
    plugins=[Sitemap("https://example.com"),
             Feed("item", "Items", "https://example.com",
                  date=lambda state: f"2026-01-{int(state['title'].split()[1]) % 28 + 1:02d}")],
)
"""

FILES = {
    "app.py": APP,
    "translations/en-US.json": '{"home": "Home"}',
    "translations/fr-FR.json": '{"home": "Accueil"}',
    "static/style.css": "body { margin: 0 }\n" * 200,
    "templates/base.html": ('<link rel="stylesheet" href="{{ static(\'style.css\') }}">'
                            '<a href="{{ link(\'\') }}">{{ t(\'home\') }}</a>'
                            "<main>{% block content %}{% endblock %}</main>"
                            "<footer>{{ global_state.site }}</footer>"),
    "templates/index.html": '{% extends "base.html" %}{% block content %}<h1>Index</h1>{% endblock %}',
    "templates/item.html": ('{% extends "base.html" %}{% block content %}<h1>{{ state.title }}</h1><ul>'
                            "{% for thing in state.get(\"things\", []) %}"
                            "<li>{{ thing.name }}: {{ thing.price }}</li>{% endfor %}</ul>{% endblock %}"),
    "templates/404.html": '{% extends "base.html" %}{% block content %}<h1>Lost</h1>{% endblock %}',
}


BUILD_ID = "20260101000000-00000000"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sys.modules.pop("app", None)  # another test's app.py, imported in this process
    yield tmp_path
    sys.modules.pop("app", None)
    sys.path[:] = [entry for entry in sys.path if entry != str(tmp_path)]


def build_in(site: Path, dist: str, workers: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Build ``site`` into ``dist`` with ``workers`` processes and one fixed build id (and so
    the same pages): the progress calls it made."""
    monkeypatch.setenv("PERSEUS_BUILD_WORKERS", str(workers))
    monkeypatch.setattr(build, "new_build_id", lambda: BUILD_ID)
    settings = load_settings(site)
    app = load_app("app:app", site)
    calls: list[tuple[int, int]] = []
    said: list[str] = []
    source = AppSource("app:app", site)
    run_in_thread(lambda: build_site(app, site / dist, settings, source=source, say=said.append,
                                     progress=lambda done, total: calls.append((done, total))))
    assert any(f"in {workers} processes" in line for line in said) == (workers > 1), said
    return calls


def stored_pages(mutable: Path) -> dict[tuple[str, str], PageVersion]:
    """The seeded store's news pages, without the times they were written at and their
    generation ids (made of a process id and a clock)."""
    store = LMDBStore(str(mutable), readonly=True)
    try:
        records = PageRecords(store, BUILD_ID)
        found = {(locale, f"news/n{i}"): records.get(locale, f"news/n{i}")
                 for locale in ("en-US", "fr-FR") for i in range(8)}
        return {key: dataclasses.replace(version, generation="", generated_at=0, due_at=0)
                for key, version in found.items() if version is not None}
    finally:
        store.close()


def test_two_workers_build_the_dist_one_process_builds(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = build_in(site, "dist-1", 1, monkeypatch)
    two = build_in(site, "dist-2", 2, monkeypatch)
    first, second = tree(site / "dist-1"), tree(site / "dist-2")
    assert sorted(first) == sorted(second)
    for name in first:
        if name == "manifest.json":  # built_at differs, the rest is the same
            a, b = orjson.loads(first[name]), orjson.loads(second[name])
            assert a.pop("built_at") and b.pop("built_at")
            assert a == b
        elif not name.startswith("mutable/"):  # compared record by record below
            assert first[name] == second[name], name
    seeds = stored_pages(site / "dist-1" / "mutable")
    assert len(seeds) == 16  # every news page in both locales
    assert seeds == stored_pages(site / "dist-2" / "mutable")
    pages = 1 + 60 + 8 + 2
    assert one[0] == two[0] == (0, 2 * pages)
    assert one[-1] == two[-1] == (2 * pages, 2 * pages)
    assert [done for done, _ in two] == sorted(done for done, _ in two)
    assert b"thing 19: 1121" in (site / "dist-2" / "pages.bin").read_bytes()  # item 59
    atom = "{http://www.w3.org/2005/Atom}"
    entries = ElementTree.fromstring(second["plugin-files/fr-FR/feed.xml"]).findall(f"{atom}entry")
    assert len(entries) == 20  # its limit, of 60 items
    assert entries[0].findtext(f"{atom}title") == "Item 27 of 60"  # the 28th of January, the newest
    assert all(e.findtext(f"{atom}id").startswith("https://example.com/fr-FR/item/item-") for e in entries)


def test_failures_in_every_worker_are_all_reported(site: Path) -> None:
    failing = ["item-0", "item-31", "item-59"]
    result = perseus("build", cwd=site, check=False,
                     env={"PERSEUS_BUILD_WORKERS": "2", "FAIL_PATHS": ",".join(failing)})
    assert result.returncode == 1
    assert "rendering 142 page(s) in 2 processes" in result.stdout
    assert "build failed: 6 page(s) could not be built" in result.stderr
    for path in failing:
        for locale in ("en-US", "fr-FR"):
            headline = (f"template 'item', path '{path}', locale {locale}: build_state raised ValueError:"
                        f" no data for {path}")
            assert headline in result.stderr
    assert "app.py:19 in item_state" in result.stderr  # the user's line, from the worker
    assert not (site / "dist").exists()


def test_a_state_function_past_the_timeout_fails_in_its_worker(site: Path) -> None:
    result = perseus("build", cwd=site, check=False,
                     env={"PERSEUS_BUILD_WORKERS": "2", "HANG_PATH": "n3", "PERSEUS_BUILD_TIMEOUT": "1"})
    assert result.returncode == 1
    assert "in 2 processes" in result.stdout
    for locale in ("en-US", "fr-FR"):
        assert (f"template 'news', path 'n3', locale {locale}: build_state raised BuildTimeout:"
                " build_state did not finish within 1 s") in result.stderr
    assert "build failed: 2 page(s)" in result.stderr


def test_a_worker_that_dies_fails_the_build_instead_of_hanging_it(site: Path) -> None:
    result = perseus("build", cwd=site, check=False,
                     env={"PERSEUS_BUILD_WORKERS": "2", "CRASH_PATH": "item-9"})
    assert result.returncode == 1
    assert "a build worker process died before it finished" in result.stderr
    assert not (site / "dist").exists()
    assert not list(site.glob(".dist.*-*"))  # nor the build's directory, with its part files


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == parent:
            found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_workers_of_a_killed_build_do_not_outlive_it(site: Path) -> None:
    build = subprocess.Popen([sys.executable, "-P", "-m", "perseus", "build"], cwd=site, text=True,
                             env={**os.environ, "PERSEUS_BUILD_WORKERS": "2", "HANG_PATH": "n3"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert build.stdout is not None
    for line in build.stdout:
        if "in 2 processes" in line:
            break
    deadline = time.monotonic() + 60
    while len(workers := _children(build.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) >= 2
    build.terminate()  # as a deploy script or `timeout` would: no clean-up runs
    build.wait(10)
    while (left := {pid for pid in workers if _running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # NOTE: so a failure leaves nothing running
        os.kill(pid, signal.SIGKILL)
    build.stdout.close()
    assert not left  # gone, not rendering (or waiting on their queue) forever


def test_parts_copied_without_copy_file_range_make_the_same_pages(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*_: object) -> int:
        raise OSError(errno.EXDEV, "cross-device link")  # as some filesystems answer

    build_in(site, "dist-1", 1, monkeypatch)
    monkeypatch.setattr(os, "copy_file_range", unsupported)
    build_in(site, "dist-2", 2, monkeypatch)
    for name in ("pages.bin", "pages.idx", "pages.paths", "index.json"):
        assert (site / "dist-1" / name).read_bytes() == (site / "dist-2" / name).read_bytes(), name
    assert not (site / "dist-2" / "parts").exists()


def test_an_app_given_as_an_object_builds_in_one_process(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSEUS_BUILD_WORKERS", "2")
    said: list[str] = []
    app, settings = load_app("app:app", site), load_settings(site)
    run_in_thread(lambda: build_site(app, site / "dist", settings, say=said.append))
    assert "rendering 142 page(s)" in said  # no spec to import it by: rendered in-process


def test_unset_workers_render_a_small_site_in_one_process_and_a_large_one_on_every_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERSEUS_BUILD_WORKERS", raising=False)
    settings = load_settings(tmp_path)
    source = AppSource("app:app", tmp_path)
    assert pool_size(settings, source, AUTO_PARALLEL_PAGES - 1) == 1  # workers would cost more than they save
    assert pool_size(settings, source, AUTO_PARALLEL_PAGES) == available_cores()
    monkeypatch.setenv("PERSEUS_BUILD_WORKERS", "2")
    assert pool_size(load_settings(tmp_path), source, 100) == 2  # a number given is obeyed
