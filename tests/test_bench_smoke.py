"""The benchmark's wrk parser on canned reports, and a tiny run of the Redis-at-scale benchmark, so
`nox -s bench` cannot rot silently.

Benchmarks are not tests: nothing here measures or asserts on timings.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

# wrk 4.1 as it prints a run against a 404 page with a few dropped connections.
WRK_404_WITH_ERRORS = """\
Running 1s test @ http://127.0.0.1:18555/nope
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   197.60us  122.01us   2.42ms   91.89%
    Req/Sec    40.29k    11.42k   60.88k    54.55%
  43969 requests in 1.10s, 38.83MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 43969
Requests/sec:  39985.96
Transfer/sec:     35.31MB
"""

WRK_OK = """\
Running 4s test @ http://127.0.0.1:40001/post/first
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms    0.31ms  12.80ms   90.12%
    Req/Sec    42.11k     2.01k   45.90k    70.00%
  167600 requests in 4.00s, 152.87MB read
Requests/sec:  41898.77
Transfer/sec:     38.21MB
"""


@pytest.fixture(scope="module")
def wrk() -> ModuleType:
    # Loaded by path: putting the repository root on sys.path would shadow the installed build.
    spec = importlib.util.spec_from_file_location("bench_wrk", REPO / "bench" / "wrk.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def test_a_clean_run_is_read_in_full(wrk: ModuleType) -> None:
    result = wrk.parse_wrk(WRK_OK)
    assert result.requests == 167_600
    assert result.seconds == pytest.approx(4.0)
    assert result.requests_per_second == pytest.approx(41_898.77)
    assert result.bytes_read == pytest.approx(152.87 * 1024**2, rel=1e-6)
    assert result.latency_avg_s == pytest.approx(1.52e-3)
    assert (result.non_2xx_3xx, result.socket_errors) == (0, 0)


def test_errors_and_non_2xx_answers_are_counted(wrk: ModuleType) -> None:
    result = wrk.parse_wrk(WRK_404_WITH_ERRORS)
    assert result.requests == 43_969
    assert result.latency_avg_s == pytest.approx(197.6e-6)
    assert result.non_2xx_3xx == 43_969
    assert result.socket_errors == 5


def test_output_without_a_summary_is_refused(wrk: ModuleType) -> None:
    with pytest.raises(wrk.WrkOutputError):
        wrk.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_the_redis_scale_benchmark_runs_and_finds_no_keyspace_wide_command(tmp_path: Path) -> None:
    bench = str(REPO / "bench")
    sys.path.insert(0, bench)  # it imports its siblings flat, as when run as a script
    try:
        spec = importlib.util.spec_from_file_location("bench_redis_scale", REPO / "bench" / "redis_scale.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        (tmp_path / "logs").mkdir()
        table = module.measure(tmp_path, tmp_path / "logs", keys=2_000, pages=2, rounds=1)
    finally:
        sys.path.remove(bench)
    rows = [line for line in table.splitlines() if line.startswith(("| empty", "| Redis with 2,000"))]
    assert len(rows) == 2, table
    assert all(row.endswith("| 0 |") for row in rows), table  # no SCAN, KEYS or DBSIZE per page
