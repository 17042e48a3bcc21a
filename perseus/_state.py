"""Encoding page state to JSON: orjson, with checks that nothing is silently changed."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import orjson

from .errors import StateEncodingError

# orjson's messages, said in the user's terms.
_HINTS = {
    "Recursion limit reached": "it is nested more than 254 levels deep",
    "Integer exceeds 64-bit range": "it holds an integer beyond 64 bits; send big numbers as strings",
    "str is not valid UTF-8: surrogates not allowed": "it holds a string with a lone surrogate"
    " (not valid Unicode)",
}


def _default(value: Any) -> Any:
    # orjson handles dataclasses itself; msgspec Structs go through msgspec when present.
    if hasattr(type(value), "__struct_fields__"):
        import msgspec  # type: ignore[import-not-found,unused-ignore]

        return msgspec.to_builtins(value)
    if isinstance(value, (set, frozenset)):
        raise TypeError("a set has no JSON order; use a sorted list")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def encode_state(value: Any) -> bytes:
    """Encode state to UTF-8 JSON bytes.

    Documented encodings (deterministic, not errors): tuples become lists; ``datetime``,
    ``date``, ``time``, ``UUID`` and enums become what orjson writes (ISO 8601 strings,
    the UUID string, the enum's value); integers up to 64 bits are written exactly, but
    JavaScript reads those above 2**53 rounded: send them as strings if that matters.

    Raises:
        StateEncodingError: the value holds something JSON cannot carry faithfully:
            NaN or an infinity (orjson would write ``null``), a lone surrogate, an
            integer beyond 64 bits, an unknown type, or nesting too deep.
    """
    try:
        encoded = orjson.dumps(value, default=_default)
    except (TypeError, orjson.JSONEncodeError) as exc:
        # NOTE: orjson wraps what _default raised; that message is the helpful one.
        reason = str(exc.__cause__ or exc)
        raise StateEncodingError(f"state cannot be encoded as JSON: {_HINTS.get(reason, reason)}") from None
    # PERF: non-finite floats are the only silent change orjson makes, and they
    # encode as null, so only a state with a null needs the walk. (find, not `in`:
    # bytes.__contains__ first tries the needle as an int, ~100 ns lost per page.)
    if encoded.find(b"null") != -1:
        _reject_non_finite(value, "state")
    return encoded


def _reject_non_finite(value: Any, where: str) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StateEncodingError(f"{where} is {value!r}, which JSON cannot represent")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{where}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _reject_non_finite(getattr(value, field.name), f"{where}.{field.name}")
