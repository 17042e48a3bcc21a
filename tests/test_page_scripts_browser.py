"""Page scripts (``Template(scripts=[...])``) in headless Chromium: mounted on the first load
and after client-side navigations, unmounted when the visitor leaves (I13-CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import Server, browser_page, perseus
from tests.navigation_site import open_page, same_document

APP = '''\
from perseus import PerseusApp, Template


def layout(ctx, body):
    return ('<nav><a id="home" href="' + ctx.link("") + '">Home</a>'
            '<a id="counter" href="' + ctx.link("counter") + '">Counter</a>'
            '<a id="broken" href="' + ctx.link("broken") + '">Broken</a></nav><main>' + body + "</main>")


def counter_view(ctx, state):
    return layout(ctx, '<h1>Counter</h1><button id="add">add</button><output id="count">-</output>')


def title(text):
    return lambda ctx, state: "<title>" + text + "</title>"


app = PerseusApp(
    templates=[
        Template("index", view=lambda ctx, state: layout(ctx, "<h1>Home</h1>"), head=title("Home"),
                 build_state=lambda info: {"unread": True}),
        Template("counter", view=counter_view, head=title("Counter"), scripts=["counter.js"],
                 build_state=lambda info: {"start": 5}),
        Template("broken", view=lambda ctx, state: layout(ctx, "<h1>Broken</h1><output id=count></output>"),
                 head=title("Broken"), scripts=["broken.js", "counter.js"],
                 build_state=lambda info: {"start": 1}),
    ],
    error_views={404: lambda ctx, error: layout(ctx, "<h1>Not here</h1>")},
    error_head=lambda ctx, error: "<title>Not here</title>",
    static_dir="static",
)
'''

# Records each mount and unmount in window.__log; the button counts up from the state.
COUNTER = '''\
export function mount(root, page) {
  const log = (window.__log = window.__log || []);
  log.push(["mount", page.template, page.path, page.locale, page.state]);
  let count = page.state.start;
  const output = root.querySelector("#count");
  const add = () => (output.textContent = String(++count));
  output.textContent = String(count);
  const button = root.querySelector("#add");
  if (button) button.addEventListener("click", add);
  return () => {
    log.push(["unmount", page.template]);
    if (button) button.removeEventListener("click", add);
  };
}
'''

BROKEN = 'export function mount(root, page) { throw new Error("broken on purpose"); }\n'


def write_site(project: Path) -> Path:
    """The site, built."""
    (project / "static").mkdir(parents=True)
    (project / "app.py").write_text(APP)
    (project / "static" / "counter.js").write_text(COUNTER)
    (project / "static" / "broken.js").write_text(BROKEN)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(write_site(tmp_path_factory.mktemp("page-scripts") / "site"))
    yield server
    server.close()


def log(page: Page) -> list[list[object]]:
    return page.evaluate("window.__log || []")  # type: ignore[no-any-return]


def test_a_page_script_mounts_with_its_state_survives_navigations_and_unmounts(
        server: Server, page: Page) -> None:
    open_page(page, server.url + "/counter")
    page.wait_for_function("(window.__log || []).length === 1")
    assert log(page) == [["mount", "counter", "counter", "xx-XX", {"start": 5}]]
    assert page.evaluate("window.perseus.state") == {"start": 5}
    page.click("#add")
    assert page.inner_text("#count") == "6"

    page.evaluate("""window.__ends = [];
        document.addEventListener("perseus:navigate-end", (e) => __ends.push(e.detail.template));""")
    page.click("#home")
    page.wait_for_function("document.title === 'Home'")
    assert log(page)[1:] == [["unmount", "counter"]]
    assert page.evaluate("window.perseus.state") == {"unread": True}

    page.click("#counter")  # back to the page: a fresh mount on the new content
    page.wait_for_function("(window.__log || []).length === 3")
    assert log(page)[2] == ["mount", "counter", "counter", "xx-XX", {"start": 5}]
    assert page.inner_text("#count") == "5"
    page.click("#add")
    page.click("#add")
    assert page.inner_text("#count") == "7"
    page.go_back()
    page.wait_for_function("document.title === 'Home'")
    page.go_forward()
    page.wait_for_function("(window.__log || []).length === 5")
    assert [entry[0] for entry in log(page)] == ["mount", "unmount", "mount", "unmount", "mount"]
    page.wait_for_function("__ends.length === 4")
    assert page.evaluate("__ends") == ["index", "counter", "index", "counter"]
    assert same_document(page)


def test_a_failing_page_script_is_logged_and_never_stops_navigation(server: Server, page: Page) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_page(page, server.url + "/")
    page.click("#broken")
    page.wait_for_function("(window.__log || []).length === 1")  # the other script still mounts
    assert log(page)[0][:2] == ["mount", "broken"]
    assert any(error.startswith("perseus: ") and "broken" in error for error in errors)
    page.click("#counter")
    page.wait_for_function("document.title === 'Counter'")
    page.wait_for_function("(window.__log || []).length === 3")
    assert log(page)[1:] == [["unmount", "broken"], ["mount", "counter", "counter", "xx-XX", {"start": 5}]]
    assert same_document(page)


def test_a_page_without_scripts_embeds_no_state_and_a_navigation_brings_it(
        server: Server, page: Page) -> None:
    open_page(page, server.url + "/")
    assert page.locator("#__perseus_state").count() == 0
    assert page.evaluate("window.perseus.state === undefined") is True
    assert page.evaluate("JSON.parse(document.getElementById('__perseus_page').textContent)") == {
        "template": "index", "scripts": []}
    page.click("#counter")
    page.wait_for_function("document.title === 'Counter'")
    page.click("#home")
    page.wait_for_function("document.title === 'Home'")
    assert page.evaluate("window.perseus.state") == {"unread": True}


def test_a_missing_page_is_shown_in_place_from_the_error_json(server: Server, page: Page) -> None:
    open_page(page, server.url + "/")
    with page.expect_response(lambda r: r.url.endswith("/.perseus/page/xx-XX/nope.json")) as answer:
        page.evaluate("window.perseus.navigate('/nope')")
    assert answer.value.status == 404
    page.wait_for_function("document.title === 'Not here'")
    assert page.url == server.url + "/nope"
    assert page.inner_text("h1") == "Not here"
    assert same_document(page)
    page.go_back()
    page.wait_for_function("document.title === 'Home'")


def test_a_new_deploy_while_the_page_is_open_gives_a_full_load(
        tmp_path: Path, browser: Browser) -> None:
    project = write_site(tmp_path / "site")
    server = Server(project)
    try:
        with browser_page(browser) as page:
            open_page(page, server.url + "/")
            server.close()  # a deploy: the new build, served on the same address
            app = project / "app.py"
            app.write_text(app.read_text().replace("<h1>Counter</h1>", "<h1>Counter, deployed again</h1>"))
            perseus("build", cwd=project)
            server = Server(project, port=server.port)
            with page.expect_navigation(url=server.url + "/counter"):
                page.click("#counter")
            page.wait_for_function("window.perseus !== undefined")
            assert page.inner_text("h1") == "Counter, deployed again"
            assert not same_document(page)
    finally:
        server.close()
