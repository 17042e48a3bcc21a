"""``perseus build``: what it writes, how it fails, how it runs state functions, how it finds the app."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from perseus import BuildPaths, PerseusApp, Template
from perseus.builder.render_jobs import MAX_CONCURRENT_STATES, SYNC_THREADS
from perseus.errors import ConfigurationError
from perseus.stores.immutable import Dist
from perseus_core.plan import BUILD_PATHS, BUILD_STATE
from tests.conftest import perseus

SITE = '''\
import asyncio
import os
import threading
import time
from pathlib import Path

from perseus import BuildPaths, PerseusApp, Template

BREAK = os.environ.get("BREAK") == "1"
HERE = Path(__file__).parent


class Peak:
    """Counts state functions running at once and records the highest count seen."""

    def __init__(self, name):
        self.file = HERE / f"peak-{name}.txt"
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.file.write_text(str(self.peak))

    def leave(self):
        with self.lock:
            self.now -= 1


ASYNC, SYNC = Peak("async"), Peak("sync")


async def async_paths():
    await asyncio.sleep(0)
    return BuildPaths([f"p{i}" for i in range(80)], extra={"kind": "async"})


async def async_state(info):
    ASYNC.enter()
    await asyncio.sleep(0.05)
    ASYNC.leave()
    return {"path": info.path, "kind": info.extra["kind"]}


def sync_paths():
    return [f"s{i}" for i in range(12)]


def sync_state(info):
    SYNC.enter()
    time.sleep(0.05)
    SYNC.leave()
    return {"path": info.path}


def broken_state(info):
    if BREAK:
        raise ValueError("the state of 'broken' is broken")
    return {"ok": True}


def broken_paths():
    if BREAK:
        raise RuntimeError("the paths of 'listing' are broken")
    return BuildPaths(["one", "two"], extra={"source": "catalogue"})


def listing_state(info):
    if BREAK and info.path == "two":
        raise LookupError("listing/two has no data")
    return {"n": info.path}


def broken_view(ctx, state):
    if BREAK:
        raise KeyError("the view of 'about' is broken")
    return "<h1>About</h1>"


def not_found_view(ctx, error):
    if BREAK:
        raise AttributeError("the 404 view is broken")
    return "<h1>Nothing here</h1>"


app = PerseusApp(
    templates=[
        Template("index", view=lambda ctx, state: "<h1>" + ctx.global_state["name"] + "</h1>",
                 head=lambda ctx, state: "<title>Home</title>"),
        Template("about", view=broken_view),
        Template("broken", view=lambda ctx, state: "ok", build_state=broken_state),
        Template("listing", view=lambda ctx, state: state["n"], build_paths=broken_paths,
                 build_state=listing_state),
        Template("async", view=lambda ctx, state: state["path"], build_paths=async_paths,
                 build_state=async_state),
        Template("sync", view=lambda ctx, state: state["path"], build_paths=sync_paths,
                 build_state=sync_state),
    ],
    global_state=lambda: {"name": "the site"},
    error_views={404: not_found_view},
)
'''


def snapshot(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` with a hash of its bytes."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = tmp_path_factory.mktemp("build") / "site"
    project.mkdir()
    (project / "app.py").write_text(SITE)
    result = perseus("build", cwd=project)
    return project, result.stdout


def load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def test_dist_layout(built: tuple[Path, str]) -> None:
    project, stdout = built
    dist = project / "dist"
    manifest = load(dist / "manifest.json")
    assert manifest["build_id"] and manifest["build_id"] in stdout
    assert manifest["pages"] == 2 + 1 + 2 + 80 + 12
    conf = load(dist / "render_conf.json")
    assert conf["locales"] == ["xx-XX"]
    assert conf["pages"]["listing/two"] == "listing" and conf["pages"][""] == "index"
    assert conf["templates"]["async"] == {"root": "async", "strategy": "build paths",
                                          "flags": BUILD_PATHS | BUILD_STATE}
    assert conf["templates"]["broken"]["strategy"] == "build state"
    assert conf["templates"]["about"]["strategy"] == "static"
    assert load(dist / "extra" / "listing.json") == {"source": "catalogue"}
    assert load(dist / "global_state.json") == {"name": "the site"}
    index = Dist(dist).pages
    records = {index.paths[i]: index.page(i) for i in range(len(index))}
    assert set(records) == set(conf["pages"])
    bodies = (dist / "pages.bin").read_bytes()
    home = records[""]
    start, length = home.html
    assert bodies[start:start + length].startswith(b"<!DOCTYPE html>")
    assert b"<h1>the site</h1>" in bodies[start:start + length]
    start, length = records["async/p3"].json
    assert orjson.loads(bodies[start:start + length])["state"] == {"path": "p3", "kind": "async"}
    assert home.html_etag != home.json_etag
    # The route table: past 30 routes, one row per template with its symbol and page count.
    assert ["●", "listing", "/listing", "2"] == next(line.split()[:4] for line in stdout.splitlines()
                                                     if " listing " in line)
    assert "build paths" in stdout
    # Only the build lock stays beside dist/ (removing it would let two builds lock two files).
    assert [p.name for p in project.glob(".dist*")] == [".dist.lock"]


def test_async_state_functions_run_concurrently_and_bounded(built: tuple[Path, str]) -> None:
    project, _ = built
    assert 1 < int((project / "peak-async.txt").read_text()) <= MAX_CONCURRENT_STATES


def test_sync_state_functions_run_in_a_bounded_pool(built: tuple[Path, str]) -> None:
    project, _ = built
    assert 1 < int((project / "peak-sync.txt").read_text()) <= SYNC_THREADS
    assert load(project / "dist" / "render_conf.json")["pages"]["sync/s11"] == "sync"


def test_failing_build_reports_every_failure_and_keeps_the_previous_dist(built: tuple[Path, str]) -> None:
    project, _ = built
    before = snapshot(project / "dist")
    result = perseus("build", cwd=project, env={"BREAK": "1"}, check=False)
    assert result.returncode != 0
    err = result.stderr
    assert "Traceback" not in err
    expected = [
        ("template 'broken'", "build_state raised ValueError: the state of 'broken' is broken"),
        ("template 'listing'", "build_paths raised RuntimeError: the paths of 'listing' are broken"),
        ("template 'about'", "render raised KeyError: \"the view of 'about' is broken\""),
        ("template '(error view 404)'", "render raised AttributeError: the 404 view is broken"),
    ]
    for where, what in expected:
        assert any(where in line and what in line for line in err.splitlines()), (where, err)
    assert "4 page(s) could not be built" in err
    assert "was left as it was" in err
    assert snapshot(project / "dist") == before
    assert [p.name for p in project.glob(".dist*")] == [".dist.lock"]


def failed_build(project: Path, body: str) -> str:
    """Write an app.py (perseus names imported, ``v`` an empty view), build it, expect failure.

    Returns what the build printed on stderr.
    """
    (project / "app.py").write_text(
        "from perseus import PerseusApp, Template\nv = lambda ctx, state: ''\n" + body)
    result = perseus("build", cwd=project, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert not (project / "dist").exists()
    return result.stderr


def test_every_failing_path_of_one_template_is_reported(tmp_path: Path) -> None:
    err = failed_build(tmp_path,
        "def state(info):\n"
        "    if info.path != 'fine':\n"
        "        raise ValueError('no data for ' + info.path)\n"
        "    return {}\n"
        "app = PerseusApp(templates=[Template('t', view=v, build_state=state,\n"
        "                                     build_paths=lambda: ['a', 'fine', 'b/c'])])\n"
    )
    assert "path 'a': build_state raised ValueError: no data for a" in err
    assert "path 'b/c': build_state raised ValueError: no data for b/c" in err
    assert "path 'fine'" not in err


@pytest.mark.parametrize("templates, names", [
    ('[Template("foo", view=v, build_paths=lambda: ["bar"]), Template("foo/bar", view=v)]',
     ("foo", "foo/bar")),
    ('[Template("index", view=v, build_paths=lambda: ["", "about"]), Template("about", view=v)]',
     ("index", "about")),
])
def test_two_templates_building_one_page_fail_the_build(tmp_path: Path, templates: str,
                                                        names: tuple[str, str]) -> None:
    err = failed_build(tmp_path, f"app = PerseusApp(templates={templates})\n")
    line = next(line for line in err.splitlines() if "also built by" in line)
    assert all(f"'{name}'" in line for name in names), line


def test_build_paths_reaching_reserved_or_aliased_urls_fail(tmp_path: Path) -> None:
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    err = failed_build(tmp_path,
        "app = PerseusApp(templates=[Template('index', view=v,\n"
        "                  build_paths=lambda: ['', '.perseus/static/x', 'robots.txt', 'ok'])],\n"
        "                 static_aliases={'/robots.txt': 'robots.txt'})\n"
    )
    assert "2 page(s) could not be built" in err
    assert "path '.perseus/static/x'" in err and "reserved for perseus" in err
    assert "path 'robots.txt'" in err and "also a static alias" in err


def test_set_headers_cannot_split_or_reframe_the_response(tmp_path: Path) -> None:
    cases = [{"Content-Length": "1"}, {"transfer-encoding": "chunked"}, {"x-a": "1\r\nSet-Cookie: a=b"},
             {"bad name": "x"}, {"x-b": 1}]
    templates = ", ".join(f"Template('t{i}', view=v, set_headers=lambda c, s: {headers!r})"
                          for i, headers in enumerate(cases))
    err = failed_build(tmp_path, f"app = PerseusApp(templates=[{templates}])\n")
    for i, headers in enumerate(cases):
        assert f"template 't{i}', path '': render raised ValueError: set_headers" in err, headers


def test_unreachable_build_paths_fail(tmp_path: Path) -> None:
    bad_paths: list[object] = ["a\\b", "a\x00", "a\ufffd", "a/../b", "a//b", ".", 42, "50%off", "a%4"]
    templates = ", ".join(f"Template('t{i}', view=v, build_paths=lambda: [{path!r}])"
                          for i, path in enumerate(bad_paths))
    templates += ", Template('one', view=v, build_paths=lambda: BuildPaths('first'))"
    err = failed_build(tmp_path, "from perseus import BuildPaths\n"
                       f"app = PerseusApp(templates=[Template('fine', view=v), {templates}])\n")
    for i, path in enumerate(bad_paths):
        assert f"template 't{i}': build_paths raised" in err, path
    assert "template 'one': build_paths raised TypeError: BuildPaths takes a list of paths" in err


# --- misconfiguration: a named error when the app is constructed -------------------------

def view(ctx: object, state: object) -> str:
    return ""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "robots.txt").write_text("User-agent: *\n")
    (tmp_path.parent / f"{tmp_path.name}-outside.txt").write_text("outside")
    (tmp_path / "link.txt").symlink_to(tmp_path.parent / f"{tmp_path.name}-outside.txt")
    return tmp_path


CONFIG_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("duplicate names", {"templates": [Template("a", view=view), Template("a", view=view)]},
     "two templates are named 'a'"),
    ("no templates", {"templates": []}, "at least one template"),
    ("alias outside", {"static_aliases": {"/x.txt": "../outside.txt"}}, "outside the project"),
    ("alias absolute", {"static_aliases": {"/passwd": "/etc/passwd"}}, "outside the project"),
    ("alias through a symlink", {"static_aliases": {"/x.txt": "link.txt"}}, "outside the project"),
    ("alias target missing", {"static_aliases": {"/x.txt": "static/nope.txt"}}, "does not exist"),
    ("alias to a directory", {"static_aliases": {"/x": "static"}}, "does not exist"),
    ("alias url without slash", {"static_aliases": {"robots.txt": "static/robots.txt"}}, "URL path"),
    ("alias url with dots", {"static_aliases": {"/a/../robots.txt": "static/robots.txt"}}, "plain path"),
    ("alias on reserved url", {"static_aliases": {"/.perseus/client.js": "static/robots.txt"}},
     "plain path"),
    ("static_dir missing", {"static_dir": "nope"}, "static_dir 'nope' is not a directory"),
    ("static_dir is a file", {"static_dir": "static/robots.txt"}, "is not a directory"),
    ("shell without root", {"shell": "<html><head></head><body></body></html>"}, '<div id="root">'),
    ("shell out of order", {"shell": '<html><div id="root"></div><head></head><body></body></html>'},
     "in that order"),
    ("error view for 200", {"error_views": {200: view}}, "HTTP error statuses"),
    ("error view keyed by text", {"error_views": {"404": view}}, "HTTP error statuses"),
    ("error view not callable", {"error_views": {404: "<h1>gone</h1>"}}, "must be a function"),
    ("error head not callable", {"error_head": "<title>gone</title>"}, "error_head must be a function"),
    ("global state not callable", {"global_state": {"a": 1}}, "global_state must be a function"),
]


@pytest.mark.parametrize("fields, message", [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS])
def test_misconfigured_app_raises_configuration_error(project: Path, fields: dict[str, Any],
                                                      message: str) -> None:
    arguments: dict[str, Any] = {"templates": [Template("index", view=view)], "root": project, **fields}
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        PerseusApp(**arguments)


@pytest.mark.parametrize("build, message", [
    (lambda: Template("a"), "has no view"),  # type: ignore[call-arg]
    (lambda: Template("a", view=None), "has no view"),  # type: ignore[arg-type]
    (lambda: Template("a", view="<h1>hi</h1>"), "view must be a function"),  # type: ignore[arg-type]
    (lambda: Template("a", view=view, build_state={"x": 1}), "build_state must be a function"),
    (lambda: Template("/a/", view=view), "not a URL path"),
    (lambda: Template("a/../b", view=view), "'..' segment"),
    (lambda: Template(".perseus", view=view), "reserved"),
])
def test_misconfigured_template_raises_configuration_error(build: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_a_well_configured_app_is_accepted(project: Path) -> None:
    app = PerseusApp(templates=[Template("index", view=view, build_paths=lambda: BuildPaths([""]))],
                     static_dir="static", static_aliases={"/robots.txt": "static/robots.txt"},
                     error_views={404: view}, root=project)
    assert app.static_aliases["/robots.txt"] == project / "static" / "robots.txt"


def test_a_dependency_missing_is_not_mistaken_for_a_missing_app(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import ap\n")
    result = perseus("build", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "No module named 'ap'" in result.stderr
    assert "cannot import 'app'" not in result.stderr


# --- finding the app: --app, PERSEUS_APP, [tool.perseus] app, app:app -----------------------

def _app_module(name: str) -> str:
    return ("from perseus import PerseusApp, Template\n"
            f"site = app = PerseusApp(templates=[Template({name!r}, view=lambda c, s: '')])\n")


def built_template(project: Path) -> str:
    [name] = load(project / "dist" / "render_conf.json")["templates"]
    return str(name)


def test_cli_finds_the_app_in_the_documented_order(tmp_path: Path) -> None:
    for module in ["cli_app", "env_app", "toml_app", "app"]:
        (tmp_path / f"{module}.py").write_text(_app_module(module.replace("_", "-")))
    (tmp_path / "pyproject.toml").write_text('[tool.perseus]\napp = "toml_app:site"\n')
    env = {"PERSEUS_APP": "env_app:site"}
    perseus("build", "--app", "cli_app:site", cwd=tmp_path, env=env)
    assert built_template(tmp_path) == "cli-app"
    perseus("build", cwd=tmp_path, env=env)
    assert built_template(tmp_path) == "env-app"
    perseus("build", cwd=tmp_path, env={"PERSEUS_APP": ""})
    assert built_template(tmp_path) == "toml-app"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    perseus("build", cwd=tmp_path, env={"PERSEUS_APP": ""})
    assert built_template(tmp_path) == "app"


@pytest.mark.parametrize("files, args, message", [
    ({}, [], "cannot import 'app'"),
    ({"app.py": _app_module("a")}, ["--app", "app:nope"], "has no attribute 'nope'"),
    ({"app.py": "app = 42\n"}, [], "not a PerseusApp"),
    ({"app.py": "from perseus import PerseusApp\napp = PerseusApp(templates=[])\n"}, [],
     "at least one template"),
    ({}, ["--app", "missing_module:app"], "cannot import 'missing_module'"),
    ({"pyproject.toml": "[tool.perseus\n"}, [], "pyproject.toml"),
    ({}, ["--app", ":app"], "write module:attribute"),
    ({}, ["--app", "my-site:app"], "write module:attribute"),
])
def test_cli_without_a_usable_app_says_why(tmp_path: Path, files: dict[str, str], args: list[str],
                                          message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = perseus("build", *args, cwd=tmp_path, env={"PERSEUS_APP": ""}, check=False)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()
