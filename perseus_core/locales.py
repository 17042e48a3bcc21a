"""Locale negotiation and locale redirects (compiled by mypyc; sans-IO).

``negotiate`` picks one of the site's locales from an ``Accept-Language`` header:
preferences in q-value order (ties keep header order), and for each one an exact tag
beats a language-only match (``en-GB`` takes ``en-US`` before a lower-ranked
``fr-FR``); the default locale when nothing matches. It never raises: whatever the
header holds, the answer is a supported locale.

``redirect_path`` turns a request path without a locale into the path of its
localised page, in a form that can only ever name this site.
"""

from __future__ import annotations

from typing import Final

# SECURITY: parsing is linear and bounded: a 64 KB header or 5 000 ranges cost no
# more than this (REDIR-04). Browsers send a handful of ranges in a few dozen bytes.
MAX_HEADER_CHARS: Final = 2048
MAX_RANGES: Final = 32
MAX_SUBTAG_CHARS: Final = 8
# Browsers drop these from URLs before parsing them (WHATWG URL), so we do too.
_STRIPPED: Final = "\t\r\n"
# Left as they are in a redirect path segment; everything else is percent-encoded.
_SEGMENT_SAFE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"
)
# A query is passed on as sent (still percent-encoded), minus anything unsafe in a header.
_QUERY_SAFE: Final = _SEGMENT_SAFE | frozenset("/?%")
_HEX: Final = "0123456789ABCDEF"


def _is_range(tag: str) -> bool:
    # RFC 4647 language-range: "*" or 1*8ALPHA *("-" 1*8alphanum).
    if tag == "*":
        return True
    parts = tag.split("-")
    for i, part in enumerate(parts):
        if not 1 <= len(part) <= MAX_SUBTAG_CHARS:
            return False
        for ch in part:
            if not ("a" <= ch <= "z" or (i > 0 and "0" <= ch <= "9")):
                return False
    return True


def _qvalue(value: str) -> float:
    """RFC 9110 ``qvalue``: ``0`` ["." 0*3DIGIT] or ``1`` ["." 0*3("0")]; -1.0 if malformed."""
    if not 1 <= len(value) <= 5 or not value.isascii():
        return -1.0
    head, _, digits = value.partition(".")
    if head not in ("0", "1") or (digits and not digits.isdigit()):
        return -1.0
    if head == "1" and digits.strip("0"):
        return -1.0
    return float(value)


def _quality(params: list[str]) -> float:
    """The q-value among a range's parameters (1.0 without one); -1.0 when malformed."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            return _qvalue(value.strip())
    return 1.0


def parse_accept_language(header: str) -> list[tuple[str, float]]:
    """The header's valid ranges, lower-cased, best first; malformed ranges are dropped.

    Ties keep the header's order; ranges with ``q=0`` are kept (they refuse a locale).
    """
    if len(header) > MAX_HEADER_CHARS:
        # Drop the range the cut went through rather than guess at its tail.
        header = header[:MAX_HEADER_CHARS].rpartition(",")[0]
    ranges: list[tuple[str, float]] = []
    for item in header.split(",", MAX_RANGES)[:MAX_RANGES]:
        parts = item.split(";")
        tag = parts[0].strip().lower()
        if not _is_range(tag):
            continue
        quality = _quality(parts[1:])
        if quality >= 0.0:
            ranges.append((tag, quality))
    # A stable sort keeps header order among equal q-values.
    ranges.sort(key=_by_quality)
    return ranges


def _by_quality(item: tuple[str, float]) -> float:
    return -item[1]


def _language(tag: str) -> str:
    return tag.partition("-")[0]


def _refused(locale: str, refusals: list[str]) -> bool:
    # RFC 4647 basic filtering: "en" refuses "en-US"; "en-us" refuses "en-US".
    for tag in refusals:
        if locale == tag or locale.startswith(tag + "-"):
            return True
    return False


def negotiate(header: str | None, supported: list[str], default: str) -> str:
    """The locale of ``supported`` that best serves ``header``; ``default`` otherwise.

    Args:
        header: the ``Accept-Language`` value, or None when the request had none.
        supported: the site's locales, default first, as spelled in its URLs.
        default: the locale to fall back to; one of ``supported``.
    """
    if not header:
        return default
    ranges = parse_accept_language(header)
    lowered = [locale.lower() for locale in supported]
    refusals = [tag for tag, quality in ranges if quality == 0.0 and tag != "*"]
    for tag, quality in ranges:
        if quality == 0.0:
            break  # sorted: every later range is a refusal too
        if tag == "*":
            return default
        for i, locale in enumerate(lowered):
            if locale == tag and not _refused(locale, refusals):
                return supported[i]
        language = _language(tag)
        for i, locale in enumerate(lowered):
            if _language(locale) == language and not _refused(locale, refusals):
                return supported[i]
    return default


def match_locale(segment: str, supported: list[str]) -> str:
    """``segment`` spelled as the supported locale it names ignoring case, or ``""``."""
    lowered = segment.lower()
    for locale in supported:
        if locale.lower() == lowered:
            return locale
    return ""


def _percent_encode(text: str, safe: frozenset[str]) -> str:
    if all(ch in safe for ch in text):
        return text
    out: list[str] = []
    for ch in text:
        if ch in safe:
            out.append(ch)
        else:
            for byte in ch.encode("utf-8", "surrogatepass"):
                out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def redirect_path(base_path: str, locale: str, path: str, query: str = "") -> str:
    """``/<base>/<locale>/<path>[?query]``: where a request for ``path`` (decoded) is sent.

    SECURITY: the result always starts with ``base_path`` + ``/`` + ``locale`` and never
    with ``//`` or ``/\\``, whatever ``path`` holds (REDIR-01, REDIR-02): tab, CR and
    LF are dropped as browsers drop them, empty, ``.`` and ``..`` segments are dropped,
    and every remaining segment is percent-encoded, so a backslash, a control
    character, ``?`` or ``#`` stay inside their segment. The query (as sent, still
    encoded) keeps its escapes; any raw character unsafe in a header is encoded.
    """
    for ch in _STRIPPED:
        if ch in path:
            path = path.replace(ch, "")
    segments = [segment for segment in path.split("/") if segment not in ("", ".", "..")]
    encoded = [_percent_encode(segment, _SEGMENT_SAFE) for segment in segments]
    target = base_path + "/" + locale
    if encoded:
        target += "/" + "/".join(encoded)
    if query:
        target += "?" + _percent_encode(query, _QUERY_SAFE)
    return target
