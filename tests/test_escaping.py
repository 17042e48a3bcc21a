"""Embedded page state stays inert in the HTML and round-trips (reliability.md ESC-01..05)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from perseus.client import runtime_path
from perseus.testing import TestClient
from tests.conftest import perseus
from tests.sites import HOSTILE_STRINGS, expected_state


class _Scripts(HTMLParser):
    """Collects every <script> element as the browser's tokenizer would see it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._text)))
            self._open = None


def scripts_of(page: str) -> list[tuple[dict[str, str | None], str]]:
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    return parser.scripts


@pytest.mark.parametrize("page_path", ["/hostile", "/scripted"])
def test_state_element_is_single_inert_and_round_trips(escaping_client: TestClient, page_path: str) -> None:
    page = escaping_client.get(page_path).text
    scripts = scripts_of(page)
    # Exactly the scripts perseus writes: state, page data, site meta, client runtime.
    assert [attrs.get("id") or attrs.get("src") for attrs, _ in scripts] == [
        "__perseus_state", "__perseus_page", "__perseus_meta", runtime_path()]
    state_text = scripts[0][1]
    assert not re.search(r"</script", state_text, re.I)
    assert "<!--" not in state_text and "<" not in state_text and ">" not in state_text
    assert "\u2028" not in state_text and "\u2029" not in state_text
    assert orjson.loads(state_text) == expected_state()


def test_a_page_without_scripts_sends_no_state_but_its_json_does(escaping_client: TestClient) -> None:
    page = escaping_client.get("/quiet").text
    assert [attrs.get("id") or attrs.get("src") for attrs, _ in scripts_of(page)] == [
        "__perseus_page", "__perseus_meta", runtime_path()]
    assert "as a key" not in page  # the state's own text is nowhere in the HTML
    assert '<h1 id="page">' in page
    data = orjson.loads(escaping_client.get("/.perseus/page/xx-XX/quiet.json").content)
    assert data["state"] == expected_state()
    assert (data["template"], data["scripts"]) == ("quiet", [])


def test_global_state_and_head_are_escaped_by_the_view(escaping_client: TestClient) -> None:
    page = escaping_client.get("/hostile").text
    assert page.count("<title>") == 1
    assert page.count("<script") == 4  # nothing injected through the head or the view
    assert "window.__pwned = 1" in page  # ...yet the text itself is there, escaped


def test_json_endpoint_round_trips_state_head_and_content(escaping_client: TestClient) -> None:
    html_page = escaping_client.get("/hostile").text
    data = orjson.loads(escaping_client.get("/.perseus/page/xx-XX/hostile.json").content)
    assert data["state"] == expected_state()
    joined = "".join(HOSTILE_STRINGS)
    assert "&lt;/script&gt;" in data["head"] and data["head"] in html_page
    assert data["content"] in html_page
    assert '<p id="global">' in data["content"] and "&lt;!--&lt;script&gt;" in data["content"]
    assert joined not in data["content"]


BAD_STATES = {
    "nan": 'float("nan")',
    "inf": '{"x": [1, float("-inf")]}',
    "surrogate": '"\\ud800"',
    "bigint": "2**64 + 1",
    "set": "{1, 2}",
    "deep": "deep(10_000)",
    "bytes": 'b"raw"',
}

_ENTRIES = ", ".join(f"{name!r}: lambda: {expr}" for name, expr in BAD_STATES.items())
BAD_APP = f"""\
from perseus import BuildPaths, PerseusApp, Template


def deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


STATES = {{{_ENTRIES}}}


async def state(info):
    return {{"value": STATES[info.path]()}}


app = PerseusApp(templates=[
    Template("fine", view=lambda ctx, state: "fine"),
    Template("bad", view=lambda ctx, state: "never rendered",
             build_paths=lambda: BuildPaths(list(STATES)), build_state=state),
])
"""


def test_values_json_cannot_carry_fail_the_build_naming_each_page(tmp_path: Path) -> None:
    """ESC-05: never NaN, never a silent null, never a 500 later: the build says where."""
    (tmp_path / "app.py").write_text(BAD_APP)
    result = perseus("build", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for path in BAD_STATES:
        lines = [line for line in result.stderr.splitlines() if f"path '{path}'" in line]
        assert len(lines) == 1, (path, result.stderr)
        assert "template 'bad'" in lines[0] and "StateEncodingError" in lines[0]
    assert "'fine'" not in result.stderr
    for hint in ["is nan", "is -inf", "lone surrogate", "beyond 64 bits", "sorted list", "254 levels",
                 "bytes is not JSON-serialisable"]:
        assert hint in result.stderr, hint
    assert "nothing was written" in result.stderr
    assert not (tmp_path / "dist").exists()
    # No half-written build left behind (only the build lock).
    assert not [p for p in tmp_path.glob(".dist*") if p.name != ".dist.lock"]


@pytest.mark.parametrize("where, code", [
    ("global_state", 'global_state=lambda: {"x": float("nan")}'),
    ("build_paths", 'templates=[Template("t", view=lambda c, s: "", build_paths=lambda: '
                    'BuildPaths(["a"], extra={"x": float("inf")}))]'),
])
def test_helper_and_global_state_are_checked_too(tmp_path: Path, where: str, code: str) -> None:
    templates = '' if "templates=" in code else 'templates=[Template("t", view=lambda c, s: "")], '
    (tmp_path / "app.py").write_text(
        "from perseus import BuildPaths, PerseusApp, Template\n"
        f"app = PerseusApp({templates}{code})\n"
    )
    result = perseus("build", cwd=tmp_path, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{where} raised StateEncodingError" in result.stderr
    assert "inf" in result.stderr or "nan" in result.stderr


def test_links_to_hostile_slugs_stay_inside_their_attribute() -> None:
    from perseus.context import RenderContext

    ctx = RenderContext("xx-XX", "", "index", base_path="/site")
    assert ctx.link('post/a"><script>alert(1)</script> b') == (
        "/site/post/a%22%3E%3Cscript%3Ealert(1)%3C/script%3E%20b")
    assert ctx.link("post/x?page=2#top") == "/site/post/x?page=2#top"
    assert ctx.link("/caf\u00e9/'") == "/site/caf%C3%A9/%27"
    assert ctx.link("") == "/site/"
