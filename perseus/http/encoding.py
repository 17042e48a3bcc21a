"""Content negotiation of ``Accept-Encoding``: which compressed copy, if any, to send."""

from __future__ import annotations

from typing import Protocol, TypeVar

from .bodies import BR, GZIP

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Copies(Protocol[T_co]):
    """A body's copies by coding index (``bodies.BR``, ``bodies.GZIP``): a (brotli, gzip)
    pair, or anything indexed the same way (copies made when first asked for)."""

    def __getitem__(self, encoding: int, /) -> T_co | None: ...


# PERF: browsers send one of a handful of values, so verdicts are kept by header value;
# the bound keeps a client sending endless variants from growing the table.
_VERDICTS: dict[str, tuple[int, ...]] = {}
_MAX_VERDICTS = 256
# Each coding perseus keeps a copy in, by its index (bodies.BR, bodies.GZIP), with its names.
_CODINGS = ((BR, ("br",)), (GZIP, ("gzip", "x-gzip")))


def preferred_encodings(accept_encoding: str | None) -> tuple[int, ...]:
    """The copies (``bodies.BR``, ``bodies.GZIP``) a request takes, best first (RFC 9110 §12.5.3).

    A coding is taken when its q-value (its own, or ``*``'s where it is not named) is above
    zero and no lower than identity's: ``gzip;q=0`` refuses gzip, ``gzip;q=0.5`` prefers the
    identity body, ``identity;q=0`` prefers any coding. Higher q first; on a tie brotli
    (smaller) before gzip. No header (or an empty one): none, the identity body.
    """
    if not accept_encoding:
        return ()
    verdict = _VERDICTS.get(accept_encoding)
    if verdict is None:
        verdict = _decide(accept_encoding)
        if len(_VERDICTS) < _MAX_VERDICTS:
            _VERDICTS[accept_encoding] = verdict
    return verdict


def pick(copies: Copies[T], accept_encoding: str | None) -> T | None:
    """The best of ``copies`` (brotli, gzip; None where a body has none) the request takes,
    or None: send the identity body."""
    # PERF: the verdict looked up here first: no call for a header value seen before.
    verdict = _VERDICTS.get(accept_encoding) if accept_encoding else ()
    for index in preferred_encodings(accept_encoding) if verdict is None else verdict:
        chosen = copies[index]
        if chosen is not None:
            return chosen
    return None


def _decide(accept_encoding: str) -> tuple[int, ...]:
    qualities: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        if not coding:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                quality = _quality(value.strip())
        qualities[coding.lower()] = quality
    wildcard = qualities.get("*")
    identity = qualities.get("identity", wildcard if wildcard is not None else 1.0)
    taken: list[tuple[float, int]] = []
    for index, names in _CODINGS:
        named = next((qualities[name] for name in names if name in qualities), wildcard)
        if named is not None and named > 0 and named >= identity:
            taken.append((-named, index))
    return tuple(index for _, index in sorted(taken))


def _quality(value: str) -> float:
    """A q-value; anything malformed or out of range counts as 0 (not acceptable)."""
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return quality if 0.0 <= quality <= 1.0 else 0.0
