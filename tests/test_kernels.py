"""The compiled kernels and their pure twins, side by side in one session.

Each fixture yields the pure twin (``py``) and, where the build has it, the
Cython module (``compiled``), loaded explicitly so both are tested even when the
selectors pick the compiled one. Hypothesis checks round-trips, that matching
never raises except ``BadPath``, and that both twins agree on random input.
"""

from __future__ import annotations

import html
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import perseus_core
from perseus_core.errors import BadPath
from perseus_core.routing import BadPath as RoutingBadPath

# Modest example counts keep the suite fast; applied per test, not as a global profile.
KERNELS = settings(max_examples=150, deadline=None)


def twins(kernel: str) -> list[ModuleType]:
    modules = [importlib.import_module(f"perseus_core._{kernel}_py")]
    try:
        modules.append(importlib.import_module(f"perseus_core._{kernel}_c"))
    except ImportError:
        # Only the pure build may lack it (test_implementation.py checks which is installed).
        assert os.environ.get("PERSEUS_EXPECT_IMPL") != "compiled"
        assert "cython" not in perseus_core.implementation().values()
    return modules


def ids(modules: list[ModuleType]) -> list[str]:
    return ["compiled" if module.__name__.endswith("_c") else "py" for module in modules]


PATHS, ROUTING, ESCAPE, SHELL = twins("paths"), twins("routing"), twins("escape"), twins("shell")


def twin_fixture(kernel: str, modules: list[ModuleType]) -> object:
    @pytest.fixture(name=kernel, params=modules, ids=ids(modules))
    def twin(request: pytest.FixtureRequest) -> ModuleType:
        return request.param  # type: ignore[no-any-return]

    return twin


paths = twin_fixture("paths", PATHS)
routing = twin_fixture("routing", ROUTING)
escape = twin_fixture("escape", ESCAPE)
shell = twin_fixture("shell", SHELL)


def test_bad_path_is_the_one_the_engine_catches() -> None:
    assert RoutingBadPath is BadPath


# --- request paths --------------------------------------------------------------------------------

# Path-like text: segments, slashes, escapes, non-ASCII, and the characters refused.
PATH_TEXT = st.text(alphabet=st.sampled_from(list("ab/-.%2Fé€😀 \x00\n\x7f\ufffd")), max_size=24)

@pytest.mark.parametrize(("path", "key"), [
    ("/post//a/", "post/a"), ("/", ""), ("", ""), ("//", ""), ("post", "post"), ("/about/", "about"),
    ("/café/€", "café/€"),
])
def test_normalize_path(paths: ModuleType, path: str, key: str) -> None:
    assert paths.normalize_path(path) == key


def refused(path: str) -> bool:
    """What no page can have: a control character, U+FFFD, or a "%" (what granian's RSGI
    leaves of a malformed escape)."""
    return any(ch < " " or ch in "\x7f\ufffd%" for ch in path)


@KERNELS
@given(PATH_TEXT)
def test_normalize_path_drops_empty_segments_or_refuses(path: str) -> None:
    invalid = refused(path)
    for module in PATHS:
        if invalid:
            with pytest.raises(BadPath):
                module.normalize_path(path)
        else:
            assert module.normalize_path(path) == "/".join(s for s in path.split("/") if s)


# --- routing --------------------------------------------------------------------------------------

PAGES = {"": 0, "about": 1, "post": 2, "post/first": 3, "docs/guide/intro": 4, "café": 5}
INCREMENTAL = {"post": 10, "docs": 11, "docs/guide": 12}


@pytest.mark.parametrize(("path", "verdict"), [
    ("/", (0, 0)), ("", (0, 0)), ("/about", (0, 1)), ("/about/", (0, 1)), ("//post//first/", (0, 3)),
    ("/café", (0, 5)),
    ("/post/new", (1, 10)), ("/post/new/deeper", (1, 10)),
    ("/docs", (1, 11)),  # an incremental template's own root, unbuilt
    ("/docs/guide/intro", (0, 4)), ("/docs/guide/other", (1, 12)), ("/docs/other", (1, 11)),
    ("/nothing", (2, -1)), ("/about/more", (2, -1)), ("/posts", (2, -1)),
])
def test_exact_page_then_most_specific_incremental(routing: ModuleType, path: str,
                                                    verdict: tuple[int, int]) -> None:
    router = routing.Router(PAGES, INCREMENTAL)
    assert router.resolve(path) == (*verdict, -1)
    assert router.resolve(path + "/" * 300) == (*verdict, -1)  # long paths take the heap buffer
    assert router.match(PATHS[0].normalize_path(path)) == verdict


def test_incremental_index_catches_every_unbuilt_path(routing: ModuleType) -> None:
    router = routing.Router({"about": 0}, {"": 7})
    assert router.resolve("/about") == (0, 0, -1)
    assert router.resolve("/a/b/c") == (1, 7, -1)
    assert router.resolve("/") == (1, 7, -1)
    assert router.resolve("/\ud800") == (1, 7, -1) and router.match("\ud800") == (1, 7)  # a lone surrogate


def test_a_router_never_initialised_fails_safely(routing: ModuleType) -> None:
    # The compiled twin reads a C table: without __init__ it must be empty, not garbage.
    router = routing.Router.__new__(routing.Router)
    try:
        verdicts = (router.match("about"), router.resolve("/about"))
    except AttributeError:  # the pure twin: no attributes before __init__
        assert routing.__name__.endswith("_py")
    else:
        assert verdicts == ((2, -1), (2, -1, -1))


@pytest.mark.parametrize(("path", "verdict"), [
    ("/en-US", (0, 0, 0)), ("/fr-FR/", (0, 0, 1)), ("/fr-FR/post/first", (0, 3, 1)),
    ("/en-US/post/new", (1, 10, 0)), ("/en-US/nothing", (2, -1, 0)),
    ("/", (3, -1, -1)), ("/about", (3, -1, -1)), ("/en-us/about", (3, -1, -1)), ("/en-USa", (3, -1, -1)),
    ("/en-US//about", (0, 1, 0)),
])
def test_locales_take_the_first_segment(routing: ModuleType, path: str,
                                        verdict: tuple[int, int, int]) -> None:
    router = routing.Router(PAGES, INCREMENTAL, ["en-US", "fr-FR"])
    assert router.resolve(path) == verdict
    assert router.locales == ("en-US", "fr-FR")


@pytest.mark.parametrize("path", ["/a\x00b", "/about\n", "/\x7f", "/caf\ufffd", "\x1b",
                                  "/%", "/%zz", "/%2", "/post/%g1", "/post/%ZZ", "/a%4/b", "/%%41", "/é%",
                                  "/post/" + "a" * 600 + "%"])
def test_control_characters_malformed_escapes_and_replacement_characters_are_bad_paths(
        routing: ModuleType, paths: ModuleType, path: str) -> None:
    for locales in ((), ("en-US",)):
        with pytest.raises(BadPath):
            routing.Router(PAGES, INCREMENTAL, locales).resolve(path)
    with pytest.raises(BadPath):
        paths.normalize_path(path)


@pytest.mark.parametrize("path", ["/%41", "/post/50%2fof", "/%aF%9e/", "/é%20", "/%6E"])
def test_a_percent_even_before_two_hex_digits_is_a_bad_path(routing: ModuleType, paths: ModuleType,
                                                            path: str) -> None:
    # What "%2541" and "%%36E" decode to: no rule after the "%" tells them from malformed escapes.
    with pytest.raises(BadPath):
        paths.normalize_path(path)
    with pytest.raises(BadPath):
        routing.Router({path.strip("/"): 9}, INCREMENTAL).resolve(path)


def test_every_offset_of_a_double_slash_or_control_character(routing: ModuleType) -> None:
    # The compiled matcher scans ASCII eight bytes at a time: try every position.
    router = routing.Router({"a" * k + "/b": k for k in range(1, 20)}, {"abcdefghij": 0})
    for k in range(1, 20):
        assert router.resolve("/" + "a" * k + "//b") == (0, k, -1)
        assert router.resolve("/" + "a" * k + "/b/") == (0, k, -1)
        for bad in ("\x00", "\x1f", "\x7f"):
            with pytest.raises(BadPath):
                router.resolve("/" + "a" * k + bad + "/b")
    assert router.resolve("/abcdefghij/.../x") == (1, 0, -1)  # "/." may look like "//" to the scan
    for k in range(0, 20):  # and "%" in every position of the eight-byte words
        for bad in ("%41/b", "%4/b"):
            with pytest.raises(BadPath):
                router.resolve("/" + "a" * k + bad)


@pytest.mark.parametrize(("pages", "incremental", "locales", "message"), [
    ({"/about": 0}, {}, (), "not a normalised path"),
    ({"a//b": 0}, {}, (), "not a normalised path"),
    ({}, {"post/": 0}, (), "not a normalised path"),
    ({"about": -1}, {}, (), "negative id"),
    ({"about": sys.maxsize + 1}, {}, (), "id above"),
    ({}, {"post": 2**64}, (), "id above"),
    ({}, {}, ("en/US",), "cannot be a path segment"),
    ({}, {}, ("",), "cannot be a path segment"),
])
def test_router_refuses_routes_that_could_never_match(routing: ModuleType, pages: dict[str, int],
                                                      incremental: dict[str, int], locales: tuple[str, ...],
                                                      message: str) -> None:
    with pytest.raises(ValueError, match=message):
        routing.Router(pages, incremental, locales)


SEGMENTS = st.sampled_from(["a", "b", "ab", "é", "😀", "en", "fr"])
ROUTE_KEYS = st.lists(SEGMENTS, max_size=3).map("/".join)
ROUTES = st.dictionaries(ROUTE_KEYS, st.integers(0, 10**6), max_size=8)


@KERNELS
@given(ROUTES, ROUTES, st.lists(st.sampled_from(["en", "fr"]), unique=True), PATH_TEXT | ROUTE_KEYS)
def test_matching_any_path_returns_a_verdict_and_the_twins_agree(
        pages: dict[str, int], incremental: dict[str, int], locales: list[str], path: str) -> None:
    outcomes = set()
    for module in ROUTING:
        router = module.Router(pages, incremental, locales)
        try:
            verdict, ident, locale = router.resolve(path)
        except BadPath:
            outcomes.add(BadPath)
            continue
        outcomes.add((verdict, ident, locale))
        assert verdict in (0, 1, 2, 3)
        if verdict == 0:
            assert ident in pages.values()
        elif verdict == 1:
            assert ident in incremental.values()
        else:
            assert ident == -1
        assert (locale >= 0) == (bool(locales) and verdict != 3)
    assert len(outcomes) == 1, outcomes


class CountingRoutes(dict[str, int]):
    """A route table that counts its lookups and the characters each one hashes."""

    def __init__(self, routes: dict[str, int]) -> None:
        super().__init__(routes)
        self.lookups = self.hashed = 0

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.lookups += 1
        self.hashed += len(key)
        return super().get(key, default)


LONG = 64 * 1024


@pytest.mark.parametrize("path", [
    "/" + "a/" * (LONG // 2),                  # 32,768 short segments, outside every template
    "/post/" + "a/" * (LONG // 2),             # below an incremental template
    "/docs/guide/" + "x" * LONG,               # one long segment
    "/" + "a" * LONG + "/b",                   # a long first segment
])
def test_routing_a_64_kb_path_looks_up_as_few_prefixes_as_a_short_one(path: str) -> None:
    """Issue 10: every prefix down to "" was hashed, 260 ms for one 64 KB path (quadratic).

    Only the prefixes that could be an incremental root are looked up: no deeper and no
    longer than the deepest and the longest root.
    """
    from perseus_core._routing_py import Router

    router = Router(PAGES, INCREMENTAL)
    short = "/" + "/".join(path.strip("/").split("/")[:3])[:20]
    counted = []
    for asked in (short, path):
        router.pages, router.incremental = CountingRoutes(PAGES), CountingRoutes(INCREMENTAL)
        verdict = router.resolve(asked)
        assert verdict == ROUTING[-1].Router(PAGES, INCREMENTAL).resolve(asked)  # both twins agree
        counted.append((router.pages.lookups, router.incremental.lookups, router.incremental.hashed))
    (_, short_lookups, _), (page_lookups, lookups, hashed) = counted
    assert page_lookups == 1  # the exact page, hashed once
    assert lookups <= 3 and lookups <= short_lookups + 1  # at most "docs/guide", "docs", ""
    assert hashed <= 3 * len("docs/guide")


LONG_PATHS = st.lists(st.sampled_from(["a", "b", "ab", "é", "", "a-b", "x" * 40]), max_size=300).map("/".join)


@KERNELS
@given(ROUTES, ROUTES, st.lists(st.sampled_from(["en", "fr"]), unique=True), LONG_PATHS)
def test_the_twins_agree_on_long_paths_of_many_segments(
        pages: dict[str, int], incremental: dict[str, int], locales: list[str], path: str) -> None:
    assert len({module.Router(pages, incremental, locales).resolve(path) for module in ROUTING}) == 1
    key = PATHS[0].normalize_path(path)
    assert len({module.Router(pages, incremental).match(key) for module in ROUTING}) == 1


# --- the twins refuse the same arguments ----------------------------------------------------------

class Text(str):
    """A str subclass (like markupsafe.Markup): every kernel takes it as text."""


class Data(bytes):
    """A bytes subclass: taken as bytes."""


NOT_TEXT = [None, b"/about", bytearray(b"/about"), memoryview(b"/about"), 2**64, -(2**64), 0, 1.5, ["/"]]
NOT_BYTES = [None, "null", bytearray(b"null"), memoryview(b"null"), 2**64, -1, 0, [1]]
IDS = [None, "1", 1.5, b"1", -1, -(2**64), sys.maxsize + 1, 2**64]

# Each kernel entry point with one argument replaced by the value under test.
TEXT_ARGUMENTS: dict[str, tuple[str, Callable[[ModuleType, object], object]]] = {
    "normalize_path": ("paths", lambda m, v: m.normalize_path(v)),
    "Router.resolve": ("routing", lambda m, v: m.Router(PAGES, INCREMENTAL).resolve(v)),
    "Router.resolve (i18n)": ("routing", lambda m, v: m.Router(PAGES, INCREMENTAL, ["en"]).resolve(v)),
    "Router.match": ("routing", lambda m, v: m.Router(PAGES, INCREMENTAL).match(v)),
    "Router.match (no incremental)": ("routing", lambda m, v: m.Router(PAGES, {}).match(v)),
    "Router locales": ("routing", lambda m, v: m.Router(PAGES, {}, [v]).resolve("/en/about")),
    "Router page key": ("routing", lambda m, v: m.Router(OneRoute(v), {}).resolve("/about")),
    "Router incremental key": ("routing", lambda m, v: m.Router({}, OneRoute(v)).resolve("/about")),
    "escape_html": ("escape", lambda m, v: m.escape_html(v)),
    "Shell document": ("shell", lambda m, v: m.Shell(v, "").page("", "", "", b"")),
    "Shell scripts": ("shell", lambda m, v: m.Shell(DOCUMENT, v).page("", "", "", b"")),
    "Shell.page lang": ("shell", lambda m, v: m.Shell(DOCUMENT, "").page(v, "", "", b"null")),
    "Shell.page head": ("shell", lambda m, v: m.Shell(DOCUMENT, "").page("en", v, "", b"null")),
    "Shell.page content": ("shell", lambda m, v: m.Shell(DOCUMENT, "").page("en", "", v, b"null")),
}
BYTES_ARGUMENTS: dict[str, tuple[str, Callable[[ModuleType, object], object]]] = {
    "escape_script_json": ("escape", lambda m, v: m.escape_script_json(v)),
    "Shell.page escaped_state": ("shell", lambda m, v: m.Shell(DOCUMENT, "").page("en", "", "", v)),
}
ID_ARGUMENTS: dict[str, tuple[str, Callable[[ModuleType, object], object]]] = {
    "Router page id": ("routing", lambda m, v: m.Router({"about": v}, {}).resolve("/about")),
    "Router incremental id": ("routing", lambda m, v: m.Router({}, {"post": v}).resolve("/post/x")),
}
TWINS = {"paths": PATHS, "routing": ROUTING, "escape": ESCAPE, "shell": SHELL}


class OneRoute(Mapping[object, int]):
    """One route whose key may be anything, even unhashable."""

    def __init__(self, key: object) -> None:
        self.key = key

    def __getitem__(self, key: object) -> int:
        return 0

    def __iter__(self) -> Iterator[object]:
        return iter([self.key])

    def __len__(self) -> int:
        return 1


def outcomes(kernel: str, call: Callable[[ModuleType, object], object], value: object) -> list[object]:
    """Each twin's outcome: ``("ok", result)`` or the type of the exception it raised."""
    found: list[object] = []
    for module in TWINS[kernel]:
        try:
            found.append(("ok", call(module, value)))
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            found.append(type(exc))
    return found


def cases(arguments: dict[str, tuple[str, Callable[[ModuleType, object], object]]],
          values: list[object]) -> list[object]:
    # NOTE: ids without repr (a memoryview's holds its address, which differs per xdist worker).
    return [pytest.param(kernel, call, value, id=f"{name}-{type(value).__name__}{i}")
            for name, (kernel, call) in arguments.items() for i, value in enumerate(values)]


@pytest.mark.parametrize(("kernel", "call", "value"), cases(TEXT_ARGUMENTS, NOT_TEXT))
def test_text_arguments_refuse_anything_but_text_in_both_twins(
        kernel: str, call: Callable[[ModuleType, object], object], value: object) -> None:
    """Issue 10: compiled ``decode``, ``escape`` and ``Shell.page`` took None where the twins raised."""
    found = outcomes(kernel, call, value)
    assert found == [TypeError] * len(found)


@pytest.mark.parametrize(("kernel", "call", "value"), cases(BYTES_ARGUMENTS, NOT_BYTES))
def test_bytes_arguments_refuse_anything_but_bytes_in_both_twins(
        kernel: str, call: Callable[[ModuleType, object], object], value: object) -> None:
    found = outcomes(kernel, call, value)
    assert found == [TypeError] * len(found)


@pytest.mark.parametrize(("kernel", "call", "value"), cases(ID_ARGUMENTS, IDS))
def test_route_ids_out_of_range_or_not_integers_are_refused_alike(
        kernel: str, call: Callable[[ModuleType, object], object], value: object) -> None:
    found = outcomes(kernel, call, value)
    expected = TypeError if not isinstance(value, int) else ValueError
    assert found == [expected] * len(found)


@pytest.mark.parametrize(("kernel", "call", "value"), [
    *cases(TEXT_ARGUMENTS, [Text("/about/%41"), Text("en")]),
    *cases(BYTES_ARGUMENTS, [Data(b'{"a":"<b>"}')]),
    *cases(ID_ARGUMENTS, [0, sys.maxsize, True]),
])
def test_subclasses_and_extreme_ids_give_both_twins_the_same_answer(
        kernel: str, call: Callable[[ModuleType, object], object], value: object) -> None:
    found = outcomes(kernel, call, value)
    assert len({repr(outcome) for outcome in found}) == 1, found
    assert found[0] is not TypeError, found  # taken (perhaps refused as a value, never as a type)


def test_every_entry_point_takes_the_same_keyword_arguments_in_both_twins() -> None:
    for paths, routing, escape, shell in zip(PATHS, ROUTING, ESCAPE, SHELL, strict=True):
        assert paths.normalize_path(path="/a/") == "a"
        router = routing.Router(pages={"a": 1}, incremental={"": 2}, locales=())
        assert router.resolve(path="/a") == (0, 1, -1) and router.match(key="b") == (1, 2)
        assert escape.escape_html(text="<") == "&lt;"
        assert escape.escape_script_json(data=b"<") == b"\\u003c"
        document = shell.Shell(document=DOCUMENT, scripts="")
        page = document.page(lang="", head="", content="x", escaped_state=b"1")
        assert b"x</div>" in page
        bare = shell.Shell(document=DOCUMENT, scripts="", embeds_state=False)
        assert b"x</div></body>" in bare.page(lang="", head="", content="x", escaped_state=b"")


# --- escaping -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list("<>&\u2028\u2029/'\""))),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@KERNELS
@given(JSON)
def test_script_json_parses_back_to_the_same_value_and_is_inert(value: object) -> None:
    data = orjson.dumps(value)
    for module in ESCAPE:
        escaped = module.escape_script_json(data)
        assert orjson.loads(escaped) == value
        for forbidden in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
            assert forbidden not in escaped
    assert len({module.escape_script_json(data) for module in ESCAPE}) == 1


@KERNELS
@given(st.text())
def test_escaped_html_unescapes_to_the_text(text: str) -> None:
    for module in ESCAPE:
        escaped = module.escape_html(text)
        assert html.unescape(escaped) == text
        assert not set("<>&\"'") & set(escaped.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
                                       .replace("&quot;", "").replace("&#x27;", ""))
    assert len({module.escape_html(text) for module in ESCAPE}) == 1


@pytest.mark.parametrize(("raw", "escaped"), [
    ("€\u2028<€\u2029&>\u2027", "€\\u2028\\u003c€\\u2029\\u0026\\u003e\u2027"),
    ("\u2028", "\\u2028"), ("<", "\\u003c"), ("€", "€"), ("", ""),
])
def test_script_json_escapes_exactly_the_dangerous_characters(escape: ModuleType, raw: str,
                                                               escaped: str) -> None:
    assert escape.escape_script_json(raw.encode()) == escaped.encode()
    for cut in (b"\xe2\x80", b"x\xe2", b"\xe2\x80<"):  # a sequence cut short is not a line end
        assert escape.escape_script_json(cut) == cut.replace(b"<", b"\\u003c")


def test_script_json_stops_a_closing_script_tag(escape: ModuleType) -> None:
    escaped = escape.escape_script_json(orjson.dumps({"x": "</script><script>alert(1)</script>"}))
    assert b"</script" not in escaped.lower()


# --- page assembly --------------------------------------------------------------------------------

DOCUMENT = '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="root"></div></body></html>'


@KERNELS
@given(st.sampled_from(["", "en-US"]), st.text(max_size=30), st.text(max_size=60), st.binary(max_size=20))
def test_page_assembly_twins_agree(lang: str, head: str, content: str, state: bytes) -> None:
    pages = {module.Shell(DOCUMENT, "<script></script>").page(lang, head, content, state) for module in SHELL}
    assert len(pages) == 1


def test_page_puts_every_part_in_its_place(shell: ModuleType) -> None:
    document = shell.Shell(DOCUMENT, '<script src="/c.js"></script>')
    page = document.page("fr-FR", "<title>É</title>", "<p>x</p>", b'{"a":1}')
    assert page.decode() == (
        '<!DOCTYPE html><html lang="fr-FR"><head><meta charset="utf-8">'
        '<meta itemprop="__perseus_head_boundary" content=""><title>É</title>'
        '<meta itemprop="__perseus_head_end" content=""></head><body><div id="root"><p>x</p></div>'
        '<script id="__perseus_state" type="application/json">{"a":1}</script>'
        '<script src="/c.js"></script></body></html>'
    )
    assert b"lang=" not in shell.Shell(DOCUMENT, "").page("", "", "", b"null")


def test_a_shell_without_state_leaves_the_state_script_out(shell: ModuleType) -> None:
    document = shell.Shell(DOCUMENT, '<script src="/c.js"></script>', False)
    assert document.embeds_state is False and shell.Shell(DOCUMENT, "").embeds_state is True
    assert document.page("", "<title>t</title>", "<p>x</p>", b"").decode() == (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta itemprop="__perseus_head_boundary" content=""><title>t</title>'
        '<meta itemprop="__perseus_head_end" content=""></head><body><div id="root"><p>x</p></div>'
        '<script src="/c.js"></script></body></html>'
    )
    with pytest.raises(ValueError, match="embeds no state"):  # it would land as stray text
        document.page("", "", "", b"null")
    with pytest.raises(TypeError, match="embeds_state"):
        shell.Shell(DOCUMENT, "", 1)


@KERNELS
@given(st.booleans(), st.text(max_size=30), st.text(max_size=60), st.binary(max_size=20))
def test_page_assembly_twins_agree_with_or_without_state(embeds: bool, head: str, content: str,
                                                         state: bytes) -> None:
    state = state if embeds else b""
    pages = {module.Shell(DOCUMENT, "<script></script>", embeds).page("en", head, content, state)
             for module in SHELL}
    assert len(pages) == 1


@pytest.mark.parametrize("document", ["<html><body></body></html>", DOCUMENT.replace('<div id="root">', ""),
                                      '<html><body><div id="root"></div></body><head></head></html>'])
def test_a_shell_without_its_markers_is_refused(shell: ModuleType, document: str) -> None:
    from perseus_core.shell import ShellError

    with pytest.raises(ShellError):
        shell.Shell(document, "")
