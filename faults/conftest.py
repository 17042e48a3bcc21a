"""Fixtures of the fault scenarios: the faults site, servers, Redis, and the closing note of figures.

Every scenario asks for ``figures`` and fills it in before it asserts, so the closing
note (printed after the run and written to ``faults-figures.md`` in the working directory)
has each scenario's numbers whether it passed or failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults.figures import Figures, table
from faults.scale import SCALE, VARIABLE
from faults.site import write_site
from tests.conftest import perseus
from tests.redis_server import RedisServer

REPORT = Path("faults-figures.md")

_FIGURES = pytest.StashKey[list[Figures]]()
_FIGURES_OF_ITEM = pytest.StashKey[Figures]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_FIGURES] = []


def _row(item: pytest.Item) -> Figures:
    """The row of ``item`` in the closing note, made on first use."""
    row = item.stash.get(_FIGURES_OF_ITEM, None)
    if row is None:
        row = item.stash[_FIGURES_OF_ITEM] = Figures(item.name.removeprefix("test_"))
        item.config.stash[_FIGURES].append(row)
    return row


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """This scenario's row in the closing note."""
    return _row(request.node)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    # A scenario whose fixtures failed (a site that did not build) still gets its row.
    if report.when == "call" or report.failed:
        row = _row(item)
        if row.result in ("not run", "passed"):
            row.result = "error" if report.failed and report.when != "call" else report.outcome
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    rows = config.stash.get(_FIGURES, [])
    if not rows:
        return
    note = table(rows, f"Fault scenarios ({VARIABLE}={SCALE:g}, {time.strftime('%Y-%m-%d %H:%M')})")
    terminalreporter.write_sep("=", "fault figures")
    terminalreporter.write(note)
    REPORT.write_text(note)
    terminalreporter.write_line(f"(written to {REPORT.resolve()})")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The faults site (faults/site.py), written and built in this scenario's own directory."""
    project = tmp_path / "site"
    write_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this scenario's own, on a free loopback port (scenarios stop and freeze it)."""
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(18)  # SIGCONT: a frozen server cannot stop
        server.stop()
