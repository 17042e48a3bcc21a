"""Raw requests for the fuzz: every route kind of the faults site, then mangled on purpose.

Deterministic for a seed. Each request is ``(bytes, half_close)``: a request cut short is
sent with the sending side closed, so the server sees that nothing more comes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from faults.site import INTENDED_500, LOCALES

PAGES = ["", "about", "post", "post/first", "post/second", "clock", "news", "greet?name=Ann", "greet-sync",
         "merged?q=x", "slow", "hang-sync", "hang-async", "stuck/ok", f"post/{INTENDED_500}",
         "post/missing-1", "nope", "post/first/extra", "about/"]
INTERNAL = ["/.perseus/client.js", "/.perseus/static/style.css", "/.perseus/static/sub/inner.txt",
            "/.perseus/static/escape/secret.txt", "/.perseus/static/", "/robots.txt",
            "/.perseus/translations/en-US", "/.perseus/translations/fr-FR", "/.perseus/translations/de-DE",
            "/.perseus/health", "/.perseus/ready", "/.perseus/metrics", "/.perseus/revalidate",
            "/.perseus/dev/events", "/.perseus/page/", "/.perseus/"]
ODD_LOCALES = ["xx-XX", "EN-us", "de-DE", "en", "en-US-x", "%65n-US"]
ESCAPES_OUT = ["/..", "/../secret.txt", "/../../secret.txt", "/../static_private/secret.txt",
               "/../static1.txt", "/../../outside/secret.txt", "/../translations_private/en-US.ftl",
               "/%2e%2e/secret.txt", "/.%2e/%2e./secret.txt", "/..%2fsecret.txt", "/..%5csecret.txt",
               "/%252e%252e%252fsecret.txt", "/..%c0%afsecret.txt", "/../../../../../../etc/passwd",
               "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/.", "/./", "//", "/%2f", "/\\..\\secret.txt",
               "/escape/secret.txt"]
BAD_ESCAPES = ["%", "%z", "%zz", "%g1", "%2", "%%", "%u0041", "%0", "%ZZ"]
BAD_UTF8 = ["%c0%af", "%ff", "%80", "%ed%a0%80", "%f4%90%80%80", "%c3", "%e2%82", "%fe%ff", "%c0%80"]
CONTROL = ["%00", "%0a", "%0d%0a", "%09", "%7f", "%1b"]
RAW_BYTES = [b"\x00", b"\x7f", b"\xff", b"\xc3\xa9", b"\x80", b"\t", b"\x1b[31m", b"\xe2\x80\xae"]
QUERIES = ["?x=1", "?%zz", "?name=%ff", "?name=%3Cscript%3E", "?" + "a=b&" * 200, "#frag", "?q=" + "x" * 3000,
           "?entity_name=post", "?../../secret.txt", "?name=\u00e9".encode().decode("latin-1")]
METHODS = ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT", "get", "Get", "GETX", "BREW",
           "PROPFIND", "G\x00T", "A" * 1000, "", "HEAD ", "GET\t"]
LANGUAGES = ["fr-FR", "fr", "de-DE,fr;q=0.5", "*", "en;q=abc", "*;q=2", "x" * 5000, ";;;,,,",
             "fr-FR;q=0.9, " * 200, "\xff\xfe", "en-US;q=1e999", "zh-Hant-TW-u-nu-hanidec", "-", "q=0"]
ODD_HEADERS = [
    ("Accept-Encoding", "gzip"), ("Accept-Encoding", "br, gzip;q=0.5"), ("Accept-Encoding", "*;q=0"),
    ("Accept-Encoding", "identity;q=0"), ("Accept-Encoding", "\xff" * 50),
    ("If-None-Match", "*"), ("If-None-Match", "garbage"), ("If-None-Match", '"x", ' * 500),
    ("If-Modified-Since", "yesterday"), ("Range", "bytes=0-0"), ("Range", "bytes=999999-"),
    ("Range", "lines=1"), ("Cookie", "flavour=lemon"), ("Cookie", "flavour=%ff; ===; a"),
    ("Cookie", "\xff\xfe=\x80"), ("Cookie", "a=" + "b" * 6000), ("User-Agent", "\xff\xfe\x00\x80"),
    ("User-Agent", "x" * 7000), ("X-Visitor", "<script>alert(1)</script>"), ("X-Visitor", "\xe9t\xe9"),
    ("Authorization", "Bearer x"), ("Expect", "100-continue"), ("Upgrade", "websocket"), ("Upgrade", "h2c"),
    ("Connection", "Upgrade, HTTP2-Settings"), ("X-Forwarded-For", "127.0.0.1, ::1"),
    ("Forwarded", 'for="[::1]";proto=https'), ("Content-Type", "\x00"),
]
BROKEN_HEADER_LINES = [
    b"NoColon", b"Bad Name: x", b": empty-name", b"X-A:\x00null", b"X-B: a\rb", b" folded: x",
    b"X-C: one\r\n two", b"Host: second.example", b"X-" + b"h" * 70_000 + b": x", b"X-D: " + b"v" * 70_000,
    b"\xff\xfe: \x80", b"Content-Length: -1", b"Content-Length: abc", b"Content-Length: 99999999999999999999",
    b"Content-Length: 1, 2", b"Transfer-Encoding: chunked, identity", b"Transfer-Encoding: gzip",
]


class Fuzzed(NamedTuple):
    """One fuzz request: its bytes, whether to close the sending side after them, and whether
    the contract says 400 for it (a well-formed GET or HEAD whose path has a bad escape,
    invalid UTF-8 or a control character: "400 before any lookup")."""

    data: bytes
    half_close: bool
    bad_path: bool


_VALID_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def is_bad_path(target: bytes) -> bool:
    """Whether the path of ``target`` (an origin-form request target) is one perseus must refuse
    with 400: a malformed escape, invalid UTF-8 or a control character once decoded."""
    path = target.split(b"?", 1)[0].split(b"#", 1)[0]
    if path.count(b"%") != len(_VALID_ESCAPE.findall(path)):
        return True
    decoded = unquote_to_bytes(path)
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return _CONTROL.search(decoded) is not None


class RequestMaker:
    """Makes fuzz requests from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def slug(self) -> str:
        return "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789-_", k=self.rng.randint(1, 24)))

    def target(self) -> str:
        """A URL of some route kind, before any mangling."""
        rng = self.rng
        roll = rng.random()
        locale = rng.choice(LOCALES) if rng.random() < 0.9 else rng.choice(ODD_LOCALES)
        if roll < 0.45:
            page = rng.choice(PAGES)
            return f"/{locale}/{page}" if page else f"/{locale}"
        if roll < 0.60:  # incremental first generations
            return f"/{locale}/{rng.choice(['post', 'stuck'])}/{self.slug()}"
        if roll < 0.75:
            page = rng.choice(PAGES + [f"post/{self.slug()}"]).split("?")[0]
            return f"/.perseus/page/{locale}/{page}.json"
        if roll < 0.88:
            return rng.choice(INTERNAL)
        return "/" + rng.choice(PAGES)  # no locale: negotiated, then redirected

    def mangle(self, target: str) -> bytes:
        rng = self.rng
        raw = target.encode("latin-1")
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            cut = rng.randint(0, len(raw))
            kind = rng.random()
            if kind < 0.18:
                raw = raw[:cut] + rng.choice(ESCAPES_OUT).encode() + raw[cut:]
            elif kind < 0.30:
                raw = raw[:cut] + rng.choice(BAD_ESCAPES).encode() + raw[cut:]
            elif kind < 0.42:
                raw = raw[:cut] + rng.choice(BAD_UTF8).encode() + raw[cut:]
            elif kind < 0.48:
                raw = raw[:cut] + rng.choice(CONTROL).encode() + raw[cut:]
            elif kind < 0.54:
                raw = raw[:cut] + rng.choice(RAW_BYTES) + raw[cut:]
            elif kind < 0.66:  # valid escapes of ordinary characters, once or twice
                raw = b"".join(b"%%%02X" % c if rng.random() < 0.3 and c != 0x2F else bytes([c]) for c in raw)
                if rng.random() < 0.2:
                    raw = raw.replace(b"%", b"%25")
            elif kind < 0.72:
                raw = raw + b"/" + rng.choice([b"a", b"ab/", b"%2e%2e/", b"x" * 300]) * rng.randint(10, 4000)
            elif kind < 0.80:
                raw = raw + rng.choice(QUERIES).encode("latin-1")
            elif kind < 0.86:
                raw = raw.replace(b"/", rng.choice([b"//", b"\\", b"/./", b"%2F", b"%2f"]), rng.randint(1, 3))
            elif kind < 0.92:
                raw = raw.upper() if rng.random() < 0.5 else raw.swapcase()
            else:
                raw = raw + rng.choice([b"/", b"/.", b"/..", b".json", b"%20", b"~", b";x=1"])
        return raw

    def method(self) -> str:
        roll = self.rng.random()
        return "GET" if roll < 0.7 else "HEAD" if roll < 0.8 else self.rng.choice(METHODS)

    def headers(self) -> list[bytes]:
        rng = self.rng
        lines = []
        if rng.random() < 0.3:
            lines.append(b"Accept-Language: " + rng.choice(LANGUAGES).encode("latin-1"))
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            name, value = rng.choice(ODD_HEADERS)
            lines.append(f"{name}: {value}".encode("latin-1"))
        if rng.random() < 0.05:
            lines.append(rng.choice(BROKEN_HEADER_LINES))
        if rng.random() < 0.01:
            lines += [b"X-Many-%d: %d" % (i, i) for i in range(rng.choice([100, 1000]))]
        return lines

    def request(self) -> Fuzzed:
        """One request."""
        rng = self.rng
        method, target = self.method(), self.mangle(self.target())
        version = b"HTTP/1.1"
        well_formed = method in ("GET", "HEAD")
        roll = rng.random()
        if roll < 0.04:
            version = rng.choice([b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2.0", b"HTTP/1.2", b"http/1.1",
                                  b"HTTP/1.1 x", b"HTTP/", b"", b"HTTP/1.10"])
            well_formed = False
        elif roll < 0.05:
            well_formed = False
            target = rng.choice([b"http://127.0.0.1" + target, b"*", b"127.0.0.1:80", b"//127.0.0.1" + target,
                                 target.lstrip(b"/"), b""])
        separator = b" " if rng.random() > 0.02 else rng.choice([b"  ", b"\t", b" \t "])
        well_formed = well_formed and separator == b" " and b" " not in target
        line = method.encode("latin-1") + separator + target + separator + version
        headers = [b"Host: 127.0.0.1"] if rng.random() > 0.03 else []
        headers += self.headers()
        body = b""
        if method in ("POST", "PUT", "PATCH") or rng.random() < 0.03:
            body = rng.choice([b"", b"x=1", b'{"paths": ["/"]}', b"\x00" * 100, b"a" * 20000])
            if rng.random() < 0.15:
                headers.append(b"Transfer-Encoding: chunked")
                body = rng.choice([b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\nbad\r\n", b"5\r\nhel", b"0\r\n\r\n"])
            else:
                headers.append(b"Content-Length: %d" % len(body))
        if rng.random() < 0.97:
            headers.append(b"Connection: close")
        newline = b"\r\n" if rng.random() > 0.03 else b"\n"
        data = newline.join([line, *headers]) + newline + newline + body
        if rng.random() < 0.02:  # pipelined: a second request right behind the first
            data += b"GET /en-US/about HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        cut_short = rng.random() < 0.03
        if cut_short:
            data = data[:rng.randint(1, max(1, len(data) - 1))]
        return Fuzzed(data, cut_short, well_formed and not cut_short and is_bad_path(target))

    def requests(self, count: int) -> Iterator[Fuzzed]:
        for _ in range(count):
            yield self.request()
