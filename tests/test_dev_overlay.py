"""The development error overlay of ``perseus serve --watch``, and its port during rebuilds:
real watch sessions on loopback, Chromium through Playwright, every wait bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from playwright.sync_api import Browser

from tests.conftest import Server, browser_page, perseus
from tests.test_dev import CHANGE_TIMEOUT, FAILED_BUILD_LINE, WatchServer

SITE = '''\
from perseus import PerseusApp, Template


def index_view(ctx, state):
    return f'<h1>Home</h1><p><a id="live" href="{ctx.link("live")}">live</a></p>'


def live_state(info, request):
    return {"items": "not a mapping"}


def live_view(ctx, state):
    return "<h1>Live</h1>" + state["items"]["first"]


def post_state(info):
    if info.path != "a":
        raise LookupError(f"no post {info.path!r}")
    return {"title": "A"}


def post_view(ctx, state):
    return f"<h1>{state['title']}</h1>"


app = PerseusApp(templates=[
    Template("index", view=index_view),
    Template("live", view=live_view, request_state=live_state),
    Template("post", view=post_view, build_paths=lambda: ["a"], build_state=post_state, incremental=True),
])
'''
RAISING_LINE = '    return "<h1>Live</h1>" + state["items"]["first"]'
OVERLAY = "#perseus-dev-overlay"
WAIT_MS = CHANGE_TIMEOUT * 1000


def make_site(parent: Path, source: str = SITE) -> Path:
    project = parent / "site"
    project.mkdir()
    (project / "app.py").write_text(source)
    (project / "README.md").write_text("# site\n")
    return project


def line_of(project: Path, code: str) -> int:
    return (project / "app.py").read_text().splitlines().index(code) + 1


def edit(project: Path, old: str, new: str) -> None:
    app = project / "app.py"
    source = app.read_text()
    assert old in source
    app.write_text(source.replace(old, new))


def before(output: str, marker: str) -> str:
    assert marker in output, output
    return output[: output.index(marker)]


def test_a_request_time_error_shows_the_users_line_in_the_browser_and_the_terminal(
    tmp_path: Path, browser: Browser
) -> None:
    project = make_site(tmp_path)
    line = line_of(project, RAISING_LINE)
    watched = WatchServer(project)
    try:
        watched.wait_for_text("Home")
        answer = watched.client.get("/live")
        assert answer.status_code == 500
        assert "TypeError: string indices must be integers" in answer.text
        assert f"app.py:{line} in live_view" in answer.text
        # The source around the line, HTML-escaped: the page shows it as code.
        assert "return &quot;&lt;h1&gt;Live&lt;/h1&gt;&quot; + state[" in answer.text
        assert "<h1>Live</h1>" not in answer.text
        # Its JSON is the overlay too: not JSON, so the client loads the page in full and shows it.
        data = watched.client.get("/.perseus/page/xx-XX/live.json")
        assert data.status_code == 500 and data.headers["content-type"].startswith("text/html")
        assert "string indices must be integers" in data.text
        # A state function of incremental generation, at the first request of its path.
        generated = watched.client.get("/post/new")
        assert generated.status_code == 500
        assert "LookupError: no post &#x27;new&#x27;" in generated.text
        raising = line_of(project, '        raise LookupError(f"no post {info.path!r}")')
        assert f"app.py:{raising} in post_state" in generated.text

        with browser_page(browser) as page:
            page.goto(watched.url + "/")
            page.click("#live")  # the client fetches the page's JSON (a 500), then loads the page
            overlay = page.locator(OVERLAY)
            overlay.wait_for(timeout=WAIT_MS)
            text = overlay.inner_text()
            assert "TypeError: string indices must be integers" in text
            assert f"app.py:{line} in live_view" in text
            assert 'state["items"]["first"]' in text

        # The terminal: the page, then the user's frame; no framework frames at all.
        watched.wait_for(lambda: "page '/live' failed" in watched.output(), "no request error logged")
        output = watched.output()
        failure = output[output.index("page '/live' failed"):]
        assert f"(at app.py:{line} in live_view)" in failure.splitlines()[0]
        assert failure.splitlines()[1].strip() == f"app.py:{line} in live_view"
        assert "site-packages" not in output and "Traceback" not in output
    finally:
        watched.close()


def test_a_failed_build_shows_over_the_open_page_until_the_fix(tmp_path: Path, browser: Browser) -> None:
    project = make_site(tmp_path)
    watched = WatchServer(project)
    try:
        watched.wait_for_text("Home")
        with browser_page(browser) as page:
            page.goto(watched.url + "/")
            edit(project, "def index_view(ctx, state):\n",
                 "def index_view(ctx, state):\n    raise RuntimeError('the <menu> is missing')\n")
            overlay = page.locator(OVERLAY)
            overlay.wait_for(timeout=WAIT_MS)
            text = overlay.inner_text()
            assert "Build failed" in text
            assert "template 'index', path '': render" in text
            assert "RuntimeError: the <menu> is missing" in text  # escaped: shown as text
            raising = line_of(project, "    raise RuntimeError('the <menu> is missing')")
            assert f"app.py:{raising} in index_view" in text
            assert page.locator("h1").first.inner_text() == "Home"  # the last good build, below it
            assert "Home" in (watched.page() or "")

            edit(project, "    raise RuntimeError('the <menu> is missing')\n", "")
            edit(project, "<h1>Home</h1>", "<h1>Home, fixed</h1>")
            page.wait_for_function("document.querySelector('h1').textContent === 'Home, fixed'",
                                   timeout=WAIT_MS)
            assert page.locator(OVERLAY).count() == 0
        assert watched.output().count(FAILED_BUILD_LINE) == 1
        output = watched.output()
        # The terminal: what failed, then the user's line.
        assert (f"  - template 'index', path '': render raised RuntimeError: the <menu> is missing\n"
                f"      app.py:{raising} in index_view\n") in output
    finally:
        watched.close()


def test_a_first_build_that_fails_answers_with_the_overlay(tmp_path: Path, browser: Browser) -> None:
    broken = SITE.replace("def live_state(info, request):", "def live_state(info, request:")
    project = make_site(tmp_path, broken)
    line = line_of(project, "def live_state(info, request:")
    watched = WatchServer(project)
    try:
        watched.wait_for(lambda: "the first build failed" in watched.output(), "no first-build failure")
        for path in ("/", "/live", "/no/such/page"):
            answer = watched.client.get(path)
            assert answer.status_code == 503
            assert "SyntaxError: &#x27;(&#x27; was never closed" in answer.text
            assert f"app.py:{line}" in answer.text
        # The terminal: the user's line first; none of click's or importlib's.
        output = watched.output()
        assert f"error: importing the app (app:app) failed at\n  app.py:{line}\n" in output
        assert "click" not in output and "importlib" not in output and "Traceback" not in output

        with browser_page(browser) as page:
            page.goto(watched.url + "/")
            assert "SyntaxError" in page.locator(OVERLAY).inner_text()
            edit(project, "def live_state(info, request:", "def live_state(info, request):")
            page.wait_for_function("document.querySelector('h1')?.textContent === 'Home'", timeout=WAIT_MS)
            assert page.locator(OVERLAY).count() == 0
    finally:
        watched.close()


def test_a_production_server_answers_500_without_the_overlay(tmp_path: Path) -> None:
    project = make_site(tmp_path)
    perseus("build", cwd=project)
    server = Server(project)
    try:
        answer = server.get("/live")
        assert answer.status_code == 500
        for leak in ("perseus-dev-overlay", "TypeError", "string indices", "app.py", "live_view",
                     "Traceback", "EventSource"):
            assert leak not in answer.text, leak
        data = server.get("/.perseus/page/xx-XX/live.json")
        assert data.status_code == 500 and "TypeError" not in data.text
    finally:
        server.close()


def test_only_changes_that_can_change_the_site_rebuild(tmp_path: Path) -> None:
    project = make_site(tmp_path)
    watched = WatchServer(project)
    try:
        watched.wait_for_text("Home")
        (project / "README.md").write_text("# site\n\nNow with notes.\n")
        (project / "notes.txt").write_text("to do\n")
        (project / "tests").mkdir()
        (project / "tests" / "test_site.py").write_text("def test_nothing():\n    pass\n")
        edit(project, "<h1>Home</h1>", "<h1>Home again</h1>")
        watched.wait_for_text("Home again")
        changed = [line for line in watched.output().splitlines() if "changed:" in line]
        assert changed == ["perseus: changed: app.py; rebuilding"]
    finally:
        watched.close()


def test_the_port_answers_every_request_across_rebuilds(tmp_path: Path) -> None:
    project = make_site(tmp_path)
    watched = WatchServer(project)
    answers: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def hammer() -> None:
        # A new connection for every request: each one is a chance to be refused.
        with httpx.Client(base_url=watched.url, timeout=10, headers={"connection": "close"}) as client:
            while not done.is_set():
                try:
                    answers.append(client.get("/").status_code)
                except httpx.HTTPError as error:
                    errors.append(repr(error))

    try:
        watched.wait_for_text("Home")
        hammering = threading.Thread(target=hammer)
        hammering.start()
        try:
            shown = "<h1>Home"
            for version in range(1, 6):
                edit(project, shown, f"<h1>v{version} Home")
                shown = f"<h1>v{version} Home"
                watched.wait_for_text(f"v{version} Home")
        finally:
            done.set()
            hammering.join(20)
        assert errors == []
        assert answers and set(answers) == {200}
        # Per rebuild, two lines: what changed, and the build now served.
        rebuilds = watched.output().split("perseus: serving build", 1)[1].splitlines()[1:]
        assert len([line for line in rebuilds if line.startswith("perseus:")]) == 10, rebuilds
    finally:
        watched.close()
