"""How big a fault run is: ``FAULTS_SCALE`` (default 1) multiplies every count and duration.

``FAULTS_SCALE=1`` is the run issue 10 asks for (20,000 fuzzed requests, 50 kill cycles,
a 5-minute soak); ``nox -s faults-quick`` runs at 0.1. The name is not ``PERSEUS_*``:
perseus refuses variables of its prefix that it does not know.
"""

from __future__ import annotations

import os

VARIABLE = "FAULTS_SCALE"


def _scale() -> float:
    raw = os.environ.get(VARIABLE, "").strip() or "1"
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value <= 100:
        raise SystemExit(f"{VARIABLE} must be a number above 0 (1 is the full run, 0.1 a quick one),"
                         f" got {raw!r}")
    return value


SCALE = _scale()


def scaled(full: float, minimum: float = 1) -> int:
    """``full`` (the count of a full run) at this scale, never below ``minimum``."""
    return int(max(minimum, round(full * SCALE)))


def scaled_seconds(full: float, minimum: float) -> float:
    """A duration of a full run at this scale, never below ``minimum`` seconds."""
    return max(minimum, full * SCALE)
