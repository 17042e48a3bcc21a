"""Content negotiation of ``Accept-Encoding``: may a gzip copy be sent instead of the body?"""

from __future__ import annotations

# PERF: browsers send one of a handful of values, so verdicts are kept by header value;
# the bound keeps a client sending endless variants from growing the table.
_VERDICTS: dict[str, bool] = {}
_MAX_VERDICTS = 256


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether a request with this ``Accept-Encoding`` gets the gzip copy (RFC 9110 §12.5.3).

    Yes when gzip (or ``x-gzip``, or ``*`` where gzip is not named) has a q-value above
    zero and no lower than identity's: ``gzip;q=0`` refuses it, ``gzip;q=0.5`` prefers the
    identity body, ``identity;q=0`` prefers gzip. No header (or an empty one): identity.
    """
    if not accept_encoding:
        return False
    verdict = _VERDICTS.get(accept_encoding)
    if verdict is None:
        verdict = _decide(accept_encoding)
        if len(_VERDICTS) < _MAX_VERDICTS:
            _VERDICTS[accept_encoding] = verdict
    return verdict


def _decide(accept_encoding: str) -> bool:
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
    gzip = qualities.get("gzip", qualities.get("x-gzip", wildcard))
    if gzip is None or gzip <= 0:
        return False
    identity = qualities.get("identity", wildcard if wildcard is not None else 1.0)
    return gzip >= identity


def _quality(value: str) -> float:
    """A q-value; anything malformed or out of range counts as 0 (not acceptable)."""
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return quality if 0.0 <= quality <= 1.0 else 0.0
