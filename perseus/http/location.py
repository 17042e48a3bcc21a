"""Redirect targets: checked once, and spelled so that a ``Location`` header can only mean one URL.

A same-site target is a path of this site (``/new``, ``/en-US/new?x=1#top``): it starts
with a single ``/``. ``location_for`` puts the site's base path in front, nothing else
(not the locale: a target names the page's whole path). An external target (only when
asked for) is an absolute ``http`` or ``https`` URL without user info.

SECURITY: the open-redirect tricks browsers fall for are refused, not repaired:
``//evil.com`` and ``/\\evil.com`` (read as another host), ``\\\\evil.com``,
``https:evil.com``, ``javascript:``, leading spaces, and any control character (a CR or
LF would split the response; browsers silently drop tab, CR and LF from URLs, which
turns ``/\\t/evil.com`` into ``//evil.com``). What stays is percent-encoded outside a
small safe set (non-ASCII, spaces, quotes, backslashes, a ``%`` that starts no escape),
so the header is ASCII and no browser can read another origin out of it. Existing
escapes are kept as they are: ``/%2f%2fevil.com`` is a path of this site.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Redirect statuses a state function may raise; 307 keeps the method and is not remembered.
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
DEFAULT_REDIRECT = 307
# Kept as they are in a Location; the rest is percent-encoded (RFC 3986 reserved and
# unreserved characters, minus "[", "]", which only an IP literal host may hold).
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?#")
_HEX = "0123456789ABCDEF"
_ESCAPE = re.compile("%[0-9A-Fa-f]{2}")
# C0 controls, DEL and C1 controls: never in a URL we send.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class BadRedirect(ValueError):
    """A redirect target that is not allowed: the message says why and what to write."""


def _encode(text: str) -> str:
    """``text`` with every character outside the safe set percent-encoded (UTF-8), escapes kept."""
    out: list[str] = []
    i = 0
    fragment = False
    while i < len(text):
        ch = text[i]
        if ch == "%" and _ESCAPE.match(text, i):
            out.append(text[i : i + 3])
            i += 3
            continue
        if ch in _SAFE and not (ch == "#" and fragment):
            fragment = fragment or ch == "#"
            out.append(ch)
        else:
            out.extend("%" + _HEX[b >> 4] + _HEX[b & 15] for b in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _no_control(target: str) -> None:
    control = _CONTROL.search(target)
    if control is not None:
        raise BadRedirect(f"redirect target {target!r} holds the control character {control.group()!r}:"
                          " a URL may hold none (CR and LF would split the response)")


def check_target(target: object, external: bool = False) -> str:
    """The target spelled for a ``Location`` (site targets without the base path yet).

    Raises:
        BadRedirect: not a string, a control character, a same-site target that is not a
            path starting with one ``/``, or an external one that is not an absolute
            ``http(s)`` URL with a host and no user info.
    """
    if not isinstance(target, str):
        raise BadRedirect(f"a redirect target is a string, got {target!r}")
    _no_control(target)
    if external:
        return _check_external(target)
    if not target.startswith("/"):
        raise BadRedirect(f"redirect target {target!r} must be a path of this site starting with '/'"
                          " (such as '/new'); for another site give an absolute URL and external=True")
    if target[1:2] in ("/", "\\"):
        raise BadRedirect(f"redirect target {target!r} starts with {target[:2]!r}, which browsers read as"
                          " another host: give a path with a single leading '/'")
    return _encode(target)


def _check_external(target: str) -> str:
    if "\\" in target:
        raise BadRedirect(f"external redirect target {target!r} holds a backslash, which browsers read"
                          " as '/': percent-encode it (%5C)")
    parts = urlsplit(target)
    if parts.scheme.lower() not in ("http", "https") or not target.lower().startswith(parts.scheme.lower() + "://"):
        raise BadRedirect(f"external redirect target {target!r} must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise BadRedirect(f"external redirect target {target!r} has user info (before '@'), which makes"
                          " a URL look like another site's: remove it")
    if not _HOST.fullmatch(parts.netloc):
        raise BadRedirect(f"external redirect target {target!r} has no valid host (an ASCII name,"
                          " IDNA-encoded if need be, and an optional port)")
    rest = target[len(parts.scheme) + 3 + len(parts.netloc):]
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{_encode(rest)}"


def with_query(location: str, query: str) -> str:
    """``location`` with a request's raw query string, unless it has a query of its own."""
    if not query or "?" in location:
        return location
    # NOTE: the fragment, if any, stays last; a "#" in the query is data, not a fragment.
    path, hash_mark, fragment = location.partition("#")
    return f"{path}?{_encode(query.replace('#', '%23'))}{hash_mark}{fragment}"


def location_for(target: str, external: bool, base_path: str) -> str:
    """The ``Location`` of a checked target: a site path gets the site's base path in front."""
    return target if external else base_path + target


def check_redirect_status(status: object) -> int:
    """``status`` if it is a redirect status a page may answer.

    Raises:
        BadRedirect: another value.
    """
    if type(status) is not int or status not in REDIRECT_STATUSES:
        allowed = ", ".join(map(str, REDIRECT_STATUSES))
        raise BadRedirect(f"a redirect status is one of {allowed}, got {status!r}")
    return status
