"""Perseus time strings: ``"5s"``, ``"1h30m"``, ``"1w"`` (compiled by mypyc).

A time string is one or more ``<digits><unit>`` pairs, summed. Units: ``s`` seconds,
``m`` minutes, ``h`` hours, ``d`` days, ``w`` weeks, ``M`` months (30 days) and ``y``
years (365 days). Unlike Perseus, digits without a unit (``"10"``) are an error, not
a silent zero that would make a page revalidate on every request.
"""

from __future__ import annotations

from typing import Final

_UNIT_SECONDS: Final = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "M": 30 * 86400,
    "y": 365 * 86400,
}
# Bounds the number of digits of one amount: nobody revalidates once per 10**18 seconds.
_MAX_DIGITS: Final = 12


class DurationError(ValueError):
    """A time string that is empty, malformed, uses an unknown unit or sums to zero."""


def parse_duration(text: str) -> int:
    """The number of seconds a Perseus time string stands for.

    Raises:
        DurationError: what is wrong with ``text``, naming the valid units.
    """
    if not text:
        raise DurationError("an empty time string; use e.g. '30s', '5m', '1h30m'")
    total = 0
    digits = 0
    amount = 0
    for ch in text:
        if "0" <= ch <= "9":
            digits += 1
            if digits > _MAX_DIGITS:
                raise DurationError(f"{text!r} has an amount with too many digits")
            amount = amount * 10 + (ord(ch) - 48)
            continue
        unit = _UNIT_SECONDS.get(ch, 0)
        if unit == 0:
            raise DurationError(f"{text!r} has an unknown unit {ch!r}; units are s m h d w M y")
        if digits == 0:
            raise DurationError(f"{text!r} has a unit {ch!r} without an amount before it")
        total += amount * unit
        digits = 0
        amount = 0
    if digits:
        raise DurationError(f"{text!r} ends with an amount without a unit; add one of s m h d w M y")
    if total <= 0:
        raise DurationError(f"{text!r} is zero; a revalidation interval must be positive")
    return total
