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


@KERNELS
@given(PATH_TEXT)
def test_normalize_path_drops_empty_segments_or_refuses(path: str) -> None:
    invalid = any(ch < " " or ch in "\x7f\ufffd" for ch in path)
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


@pytest.mark.parametrize("path", ["/a\x00b", "/about\n", "/\x7f", "/caf\ufffd", "\x1b"])
def test_control_characters_and_replacement_characters_are_bad_paths(routing: ModuleType, path: str) -> None:
    for locales in ((), ("en-US",)):
        with pytest.raises(BadPath):
            routing.Router(PAGES, INCREMENTAL, locales).resolve(path)


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


@pytest.mark.parametrize(("pages", "incremental", "locales", "message"), [
    ({"/about": 0}, {}, (), "not a normalised path"),
    ({"a//b": 0}, {}, (), "not a normalised path"),
    ({}, {"post/": 0}, (), "not a normalised path"),
    ({"about": -1}, {}, (), "negative id"),
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


@pytest.mark.parametrize("document", ["<html><body></body></html>", DOCUMENT.replace('<div id="root">', ""),
                                      '<html><body><div id="root"></div></body><head></head></html>'])
def test_a_shell_without_its_markers_is_refused(shell: ModuleType, document: str) -> None:
    from perseus_core.shell import ShellError

    with pytest.raises(ShellError):
        shell.Shell(document, "")
