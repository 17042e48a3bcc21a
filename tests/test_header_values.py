"""``set_headers`` output is validated where it is assembled: never dropped in silence.

Granian drops a header whose value holds a control character (tab aside) without a word,
so a security header could vanish; CR or LF would split the response. A built page with
such a header fails the build (naming template, page and header); a page rendered or
generated at request time answers 500 and the log names the template and the header.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, perseus

# Each value, and the control character the error names.
BAD = [("a\x01b", "\x01"), ("a\x7fb", "\x7f"), ("a\rb", "\r"), ("a\nb", "\n"), ("a\x00", "\x00"),
       ("\x1b[31m", "\x1b"), ("a\x85b", "\x85")]
BAD_VALUES = [value for value, _ in BAD]

SITE = '''\
from perseus import NotFound, PerseusApp, Template

BAD = {bad!r}


def view(ctx, state):
    return "<p>" + ctx.path + "</p>"


def headers(ctx, state):
    return {{"x-frame-options": "DENY", "x-tab": "a\\tb"}}


def per_request_headers(ctx, state):
    index = int(state["bad"])
    return {{"x-frame-options": "DENY"}} if index < 0 else {{"content-security-policy": BAD[index]}}


def generated_headers(ctx, state):
    index = int(state["path"] or -1)
    return {{"x-frame-options": "DENY"}} if index < 0 else {{"x-robots-tag": BAD[index]}}


app = PerseusApp(templates=[
    Template("index", view=view, set_headers=headers),
    Template("greet", view=view, set_headers=per_request_headers,
             request_state=lambda info, request: {{"bad": request.query.get("bad", "-1")}}),
    Template("gen", view=view, set_headers=generated_headers, incremental=True,
             build_state=lambda info: {{"path": info.path}}),
])
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = tmp_path_factory.mktemp("headers")
    (project / "app.py").write_text(SITE.format(bad=BAD_VALUES))
    perseus("build", cwd=project)
    server = Server(project)
    yield server
    server.close()


def test_valid_headers_are_sent_tab_included(server: Server) -> None:
    for path in ("/", "/greet", "/gen"):
        answer = server.get(path)
        assert answer.status_code == 200 and answer.headers["x-frame-options"] == "DENY", path
    assert server.get("/").headers["x-tab"] == "a\tb"


@pytest.mark.parametrize("index", range(len(BAD_VALUES)), ids=[repr(v) for v in BAD_VALUES])
def test_a_control_character_at_request_time_is_a_logged_500_naming_template_and_header(
        server: Server, index: int) -> None:
    answer = server.get("/greet", params={"bad": str(index)})
    assert answer.status_code == 500
    assert "Traceback" not in answer.text and "set_headers" not in answer.text
    generated = server.get(f"/gen/{index}")
    assert generated.status_code == 500
    assert server.get(f"/gen/{index}").status_code == 500  # not stored: tried again, refused again
    log = server.log.read_text()
    control = BAD[index][1]
    assert f"template 'greet' returned a value for header 'content-security-policy' with the control" \
           f" character {control!r}" in log
    assert f"template 'gen' returned a value for header 'x-robots-tag' with the control" \
           f" character {control!r}" in log


@pytest.mark.parametrize(("headers", "named"), [
    ({"x-frame-options": "DENY\x01"}, "header 'x-frame-options' with the control character '\\x01'"),
    ({"strict-transport-security": "max-age=1\x7f"}, "header 'strict-transport-security' with the control"),
    ({"x-a": "1\r\nSet-Cookie: a=b"}, "header 'x-a' with the control character '\\r'"),
    ({"x-a\n": "1"}, "invalid header name 'x-a\\n'"),
    ({"x-\x01": "1"}, "invalid header name 'x-\\x01'"),
])
def test_a_control_character_in_a_built_page_fails_the_build_naming_template_page_and_header(
        tmp_path: Path, headers: dict[str, str], named: str) -> None:
    (tmp_path / "app.py").write_text(
        "from perseus import PerseusApp, Template\n"
        f"app = PerseusApp(templates=[Template('post', view=lambda ctx, state: '', build_paths=lambda: ['a'],"
        f" set_headers=lambda ctx, state: {headers!r})])\n")
    result = perseus("build", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "template 'post', path 'a': render raised ValueError: set_headers of template 'post'" \
        in result.stderr, result.stderr
    assert named in result.stderr, result.stderr
    assert not (tmp_path / "dist").exists()
