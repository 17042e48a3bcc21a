"""What `perseus build` prints: the route table, the progress bar on a terminal, colour and help."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from perseus.cli import main
from perseus.settings import READ_ELSEWHERE, specs
from tests.conftest import perseus

ESCAPE = "\x1b"
STRATEGIES = '''
from perseus import PerseusApp, Redirect, Template


def moved(info):
    raise Redirect("/about")


app = PerseusApp(templates=[
    Template("index", view=lambda ctx, state: "<h1>Home</h1>" + "<p>words that compress</p>" * 100),
    Template("about", view=lambda ctx, state: "<h1>About</h1>"),
    Template("post", view=lambda ctx, state: "<p>post</p>", build_paths=lambda: {paths},
             build_state=lambda info: {{"path": info.path}}),
    Template("news", view=lambda ctx, state: "<p>news</p>", build_state=lambda info: {{}},
             revalidate_after="1h30m"),
    Template("dashboard", view=lambda ctx, state: "<p>you</p>", request_state=lambda info, request: {{}}),
    Template("docs", view=lambda ctx, state: "<p>docs</p>", build_paths=lambda: ["intro"], incremental=True),
    Template("old", view=lambda ctx, state: "", build_state=moved),
])
'''
SLOW = '''
import time

from perseus import PerseusApp, Template


def slow_state(info):
    time.sleep(0.3)  # 48 pages, 8 threads: at least 1.8 s of rendering
    return {}


app = PerseusApp(templates=[
    Template("page", view=lambda ctx, state: "<p>slow</p>", build_paths=lambda: [str(i) for i in range(48)],
             build_state=slow_state),
])
'''


def site(parent: Path, source: str) -> Path:
    parent.mkdir()
    (parent / "app.py").write_text(source)
    return parent


def strategies(tmp_path: Path, pages: int = 3) -> Path:
    return site(tmp_path / "strategies", STRATEGIES.format(paths=[str(i) for i in range(pages)]))


def on_terminal(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal, as a user's shell would."""
    environ = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-P", "-m", "perseus", *args], cwd=cwd,
                               env={**environ, **(env or {})}, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer has gone
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return process.wait(timeout=120), output.decode()


def test_every_route_with_its_symbol_interval_and_sizes(tmp_path: Path) -> None:
    out = perseus("build", cwd=strategies(tmp_path)).stdout
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("  ") and "/" in line
            and len(line.split()) > 2 and line.split()[0] in "○●↻ƒ◇→"}
    assert rows["/"].split()[0] == "○" and "kB" in rows["/"]  # the HTML and its brotli copy
    assert re.search(r"\d+\.\d kB\s+\d+ B", rows["/"])
    assert rows["/post/0"].split()[0] == "●" and rows["/post/2"].split()[0] == "●"
    assert rows["/news"].split()[0] == "↻" and "1h30m" in rows["/news"]
    assert rows["/dashboard"].split()[0] == "ƒ" and "per request" in rows["/dashboard"]
    assert rows["/docs/intro"].split()[0] == "◇"
    assert rows["/docs/*"].split()[0] == "◇" and "on first request" in rows["/docs/*"]
    assert rows["/old"].split()[0] == "→" and "307 → /about" in rows["/old"]
    legend = {line.split()[0]: line for line in out.splitlines()[-7:] if line.strip()}
    assert set(legend) == set("○●↻ƒ◇→")
    assert "request state" in legend["ƒ"] and "incremental" in legend["◇"]
    assert ESCAPE not in out  # a pipe gets no colour


def test_many_routes_are_summarised_per_template_and_all_on_request(tmp_path: Path) -> None:
    project = strategies(tmp_path, pages=120)
    out = perseus("build", cwd=project).stdout
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith("  ")
            and len(line.split()) > 3 and line.split()[0] in "○●↻ƒ◇→"}
    assert rows["post"][:4] == ["●", "post", "/post", "120"]
    assert rows["index"][3] == "1" and rows["docs"][3] == "1+"  # incremental: more on request
    assert rows["news"][4] == "1h30m"
    assert "/post/117" not in out
    assert "126 routes in 7 templates; `--routes all` lists every route" in out
    every = perseus("build", "--routes", "all", cwd=project).stdout
    assert all(f"/post/{n} " in every for n in range(120))
    assert "--routes all" not in every
    assert "/post/3 " not in perseus("build", "--routes", "templates", cwd=project).stdout


def test_colour_on_a_terminal_and_none_with_no_color(tmp_path: Path) -> None:
    project = strategies(tmp_path)
    code, out = on_terminal("build", cwd=project)
    assert code == 0 and ESCAPE + "[" in out and "built 9 page(s)" in out
    for env, args in (({"NO_COLOR": "1"}, ()), ({"NO_COLOR": "anything"}, ()), ({}, ("--no-color",))):
        code, out = on_terminal("build", *args, cwd=project, env=env)
        assert code == 0 and "built 9 page(s)" in out and ESCAPE not in out, (env, args)
    code, out = on_terminal("--no-color", "build", cwd=project)
    assert code == 0 and ESCAPE not in out
    # An error message is red on a terminal, plain with NO_COLOR.
    code, out = on_terminal("build", "--app", "nowhere:app", cwd=project)
    assert code == 1 and ESCAPE + "[31m" in out
    code, out = on_terminal("build", "--app", "nowhere:app", cwd=project, env={"NO_COLOR": "1"})
    assert code == 1 and "error:" in out and ESCAPE not in out


def test_a_slow_build_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    project = site(tmp_path / "slow", SLOW)
    code, out = on_terminal("build", cwd=project)
    assert code == 0, out
    assert "rendering  [" in out and "48/48" in out and "pages/s" in out
    code, out = on_terminal("build", cwd=project, env={"NO_COLOR": "1"})
    assert code == 0 and "rendering  [" in out and ESCAPE not in out  # a bar, without escapes
    piped = perseus("build", cwd=project).stdout
    assert "rendering  [" not in piped and "/48" not in piped and "\r" not in piped
    assert "built 48 page(s)" in piped


def test_a_quick_build_shows_no_bar(tmp_path: Path) -> None:
    code, out = on_terminal("build", cwd=strategies(tmp_path))
    assert code == 0 and "rendering  [" not in out


def options() -> list[tuple[str, click.Option]]:
    found = [("perseus", param) for param in main.params if isinstance(param, click.Option)]
    for name, command in main.commands.items():
        found += [(name, param) for param in command.params if isinstance(param, click.Option)]
    # --help and --version act and exit: they have no value, so no variable or default.
    return [(name, param) for name, param in found
            if not param.hidden and param.name not in ("help", "version")]


@pytest.mark.parametrize(("command", "option"), options(), ids=lambda value: getattr(value, "name", value))
def test_every_option_names_its_variable_and_default(command: str, option: click.Option) -> None:
    assert option.help and "default: " in option.help, (command, option.name)
    setting = "app" if option.name == "app_spec" else option.name
    # PERSEUS_DIST is internal (serve hands it to its workers); --dist does not read it.
    fields = {name for name, spec in specs().items() if not spec.meaning.startswith("internal")}
    if setting in fields:
        spec = specs()[setting]
        variables = ", ".join(name for name in (spec.env, spec.fallback) if name)
        assert f"[env: {variables};" in option.help and spec.shown.replace("`", "") in option.help
    elif option.name == "no_color":
        assert "[env: NO_COLOR; default: unset]" in option.help and "NO_COLOR" in READ_ELSEWHERE
    else:
        assert "env:" not in option.help, (command, option.name)


def test_help_shows_variables_and_defaults(tmp_path: Path) -> None:
    text = " ".join(perseus("serve", "--help", cwd=tmp_path).stdout.split())
    assert "--port INTEGER The port to listen on. [env: PERSEUS_PORT, PORT; [tool.perseus] port;" \
           " default: 8080]" in text
    assert "[env: PERSEUS_HOST, HOST; [tool.perseus] host; default: 127.0.0.1]" in text
    assert "--no-build Serve the existing dist/ without building. [default: off]" in text
