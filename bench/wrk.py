"""Running wrk and reading its report; stdlib only, so the smoke test can load it alone."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class WrkOutputError(ValueError):
    """wrk printed something this parser does not recognise (a new wrk version, or a failed run)."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    requests_per_second: float
    bytes_read: int
    latency_avg_s: float
    non_2xx_3xx: int
    socket_errors: int


def _number_with_unit(text: str, units: dict[str, float] | dict[str, int]) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    if match is None or match.group(2) not in units:
        raise WrkOutputError(f"cannot read {text!r} as a number with a unit")
    return float(match.group(1)) * units[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read the summary wrk prints at the end of a run.

    Raises:
        WrkOutputError: a line every wrk run prints is missing or unreadable.
    """
    total = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+), ([0-9.]+\w+) read", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.M)
    latency = re.search(r"^\s+Latency\s+(\S+)", output, re.M)
    if total is None or rate is None or latency is None:
        raise WrkOutputError(f"no wrk summary in:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_number_with_unit(total.group(2), _TIME_UNITS),
        requests_per_second=float(rate.group(1)),
        bytes_read=int(_number_with_unit(total.group(3), _SIZE_UNITS)),
        latency_avg_s=_number_with_unit(latency.group(1), _TIME_UNITS),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(url: str, seconds: float, *, connections: int = 64, threads: int = 1, cpu: int = 1,
            script: Path | None = None) -> WrkResult:
    """One keep-alive wrk run against ``url``, pinned to ``cpu`` (``script``: a wrk Lua script)."""
    command = ["taskset", "-c", str(cpu), "wrk", f"-t{threads}", f"-c{connections}",
               f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    command += [*(["-s", str(script)] if script else []), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise WrkOutputError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)
