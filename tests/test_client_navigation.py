"""Client-side navigation in headless Chromium: what a visitor notices (content, title, URL,
scroll, focus, announcements), what the browser asks for (a cache, prefetching), and how the
client falls back to a full load."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.conftest import Server, browser_page, build_example, perseus
from tests.navigation_site import open_page, same_document, write_navigation_site


@pytest.fixture(scope="module")
def strategies_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(build_example("strategies", tmp_path_factory.mktemp("strategies")))
    yield server
    server.close()


@pytest.fixture(scope="module")
def navigation_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = write_navigation_site(tmp_path_factory.mktemp("navigation") / "site")
    perseus("build", cwd=project)
    server = Server(project)
    yield server
    server.close()


def record_requests(page: Page) -> list[str]:
    """The URLs the page asks for from now on (the browser's own favicon request aside)."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "favicon" not in r.url else None)
    return requests


def page_json(requests: list[str]) -> list[str]:
    return [url.partition("/.perseus/page/")[2] for url in requests if "/.perseus/page/" in url]


def test_a_link_swaps_content_title_and_url_moves_focus_and_announces_the_title(
        basic_server: Server, page: Page) -> None:
    open_page(page, basic_server.url + "/")
    page.evaluate("""window.__events = [];
        for (const name of ["perseus:navigate-start", "perseus:navigate-end"])
            document.addEventListener(name, (e) => __events.push([name, e.detail.url]));""")
    page.click("nav >> text=About")
    page.wait_for_function("document.title === 'About'")
    assert page.url == basic_server.url + "/about"
    assert page.locator("#root h1").inner_text() == "About"
    assert page.locator('meta[name="description"]').get_attribute("content") == (
        "What this site is and how it is built.")
    assert same_document(page)
    # Focus is on the new content, and a polite live region says where the visitor is.
    assert page.evaluate("document.activeElement.id") == "root"
    live = page.locator('[aria-live="polite"]')
    assert live.count() == 1 and live.inner_text() == "About"
    assert live.bounding_box() is not None and live.bounding_box()["width"] <= 1  # type: ignore[index]
    page.wait_for_function("__events.length === 2")
    about = basic_server.url + "/about"
    assert page.evaluate("__events") == [["perseus:navigate-start", about], ["perseus:navigate-end", about]]


def test_the_query_string_reaches_a_page_rendered_per_request_which_is_fetched_every_time(
        strategies_server: Server, page: Page) -> None:
    open_page(page, strategies_server.url + "/")
    requests = record_requests(page)
    page.click("text=Request state")  # /greet?name=Ada
    page.wait_for_function("document.title === 'Hello Ada'")
    assert page.locator("h1").inner_text() == "Hello, Ada!"
    assert page.url == strategies_server.url + "/greet?name=Ada"
    assert "xx-XX/greet.json?name=Ada" in page_json(requests)
    assert same_document(page)

    page.go_back()
    page.wait_for_function("document.title === 'Strategies'")
    requests.clear()
    page.go_forward()  # answered "private, no-store": asked for again, never kept
    page.wait_for_function("document.title === 'Hello Ada'")
    assert page_json(requests) == ["xx-XX/greet.json?name=Ada"]
    assert same_document(page)


def test_back_and_forward_need_no_request_and_restore_the_scroll_position(
        basic_server: Server, page: Page) -> None:
    open_page(page, basic_server.url + "/")
    page.evaluate("document.body.style.minHeight = '5000px'")  # the body stays: room to scroll
    page.evaluate("window.perseus.navigate('/about')")
    page.wait_for_function("document.title === 'About'")
    page.evaluate("scrollTo(0, 700)")
    page.wait_for_function("scrollY === 700")
    page.evaluate("window.perseus.navigate('/post/first')")
    page.wait_for_function("document.title === 'The first post'")
    assert page.evaluate("scrollY") == 0  # a new page starts at its top
    page.evaluate("scrollTo(0, 300)")
    page.wait_for_function("scrollY === 300")
    requests = record_requests(page)

    page.go_back()
    page.wait_for_function("document.title === 'About'")
    assert page.evaluate("scrollY") == 700
    assert page.url == basic_server.url + "/about"
    page.go_forward()
    page.wait_for_function("document.title === 'The first post'")
    assert page.evaluate("scrollY") == 300
    assert "Hello from a page built at build time." in page.inner_text("#root")
    assert requests == []
    assert same_document(page)


def test_a_link_is_prefetched_on_hover_once_and_the_click_needs_no_request(
        basic_server: Server, page: Page) -> None:
    open_page(page, basic_server.url + "/")
    requests = record_requests(page)
    with page.expect_request(lambda r: r.url.endswith("/.perseus/page/xx-XX/about.json")):
        page.hover("nav >> text=About")
    page.hover("h1")
    page.hover("nav >> text=About")
    page.focus("nav >> text=About")
    page.click("nav >> text=About")
    page.wait_for_function("document.title === 'About'")
    assert page_json(requests) == ["xx-XX/about.json"]
    assert same_document(page)


def add_link(page: Page, html: str) -> None:
    page.evaluate("(html) => document.querySelector('main').insertAdjacentHTML('afterbegin', html)", html)


def test_links_the_browser_should_follow_are_left_to_it(basic_server: Server, page: Page) -> None:
    open_page(page, basic_server.url + "/")
    requests = record_requests(page)
    add_link(page, '<a id="blank" target="_blank" href="/about">new tab</a>')
    with page.context.expect_page() as tab:
        page.click("#blank")
    tab.value.wait_for_load_state()
    assert tab.value.url == basic_server.url + "/about"
    tab.value.close()
    with page.expect_request(lambda r: r.url.endswith("/post.json")):
        page.hover("nav >> text=Posts")  # prefetched, but not shown in place:
    for modifier in ["Control", "Shift"]:
        with page.context.expect_page() as tab:
            page.click("nav >> text=Posts", modifiers=[modifier])  # type: ignore[list-item]
        tab.value.close()
    assert page.title() == "Home" and page.url == basic_server.url + "/"
    assert page_json(requests) == ["xx-XX/post.json"] and same_document(page)

    # Another origin (the same server by another name), a download, a link marked for reload.
    for link in [f'<a id="go" href="{basic_server.url.replace("127.0.0.1", "localhost")}/about">',
                 '<a id="go" data-perseus-reload href="/about">']:
        open_page(page, basic_server.url + "/")
        add_link(page, link + "go</a>")
        requests.clear()
        with page.expect_navigation():
            page.click("#go")
        assert page.title() == "About"
        assert page_json(requests) == [] and not same_document(page)
    add_link(page, '<a id="get" download href="/about">get</a>')
    with page.expect_download():
        page.click("#get")
    assert page.title() == "About" and page_json(requests) == []


def test_a_missing_page_shows_the_404_view_with_its_status_and_title(
        basic_server: Server, page: Page) -> None:
    open_page(page, basic_server.url + "/")
    documents: list[str] = []
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)
    add_link(page, '<a id="nope" href="/post/nope">nope</a>')
    with page.expect_response(lambda r: r.url.endswith("/.perseus/page/xx-XX/post/nope.json")) as answer:
        page.click("#nope")
    assert answer.value.status == 404
    page.wait_for_function("document.title === '404 page not found'")
    page.wait_for_function("window.perseus !== undefined")
    assert page.url == basic_server.url + "/post/nope"
    assert "Nothing here" in page.inner_text("#root")
    page.wait_for_timeout(300)  # NOTE: not a timing assertion: room for a reload loop to show
    # Shown in place from the error's JSON, or loaded once when the JSON carries no page.
    assert documents in ([], [basic_server.url + "/post/nope"])


def test_a_new_build_id_a_network_error_or_a_page_not_json_gives_a_full_load(
        basic_server: Server, page: Page) -> None:
    def first_build(route: Route) -> None:
        # The page as a deploy before made it (the build id in its meta).
        body = route.fetch().text()
        if '"build"' not in body:
            body = body.replace('"i18n":false', '"i18n":false,"build":"one"')
        route.fulfill(body=body, content_type="text/html")

    def another_build(route: Route) -> None:
        page_data = route.fetch().json()
        route.fulfill(json={**page_data, "build": "another"})

    page.route(basic_server.url + "/", first_build)
    page.route("**/about.json", another_build)
    page.route("**/post.json", lambda route: route.abort("connectionreset"))
    proxy_page = "<p>a proxy's page</p>"
    page.route("**/first.json", lambda route: route.fulfill(body=proxy_page, content_type="text/html"))
    for link, title in [("About", "About"), ("Posts", "All posts")]:
        open_page(page, basic_server.url + "/")
        with page.expect_navigation(url=lambda url: not url.endswith("/")):
            page.click(f"nav >> text={link}")
        assert page.title() == title and not same_document(page)
    open_page(page, basic_server.url + "/")
    with page.expect_navigation(url=basic_server.url + "/post/first"):
        page.evaluate("window.perseus.navigate('/post/first')")
    assert page.title() == "The first post" and not same_document(page)


def test_scripts_in_swapped_content_run_as_on_a_full_load(navigation_server: Server, page: Page) -> None:
    page.goto(navigation_server.url + "/scripts")
    page.wait_for_function("window.__runs && window.__runs.length === 3")
    full_load = page.evaluate("window.__runs")
    assert full_load == ["classic", "external", "module"]

    open_page(page, navigation_server.url + "/")
    page.click("#scripts")
    page.wait_for_function("window.__runs && window.__runs.length === 3")
    assert page.evaluate("window.__runs") == full_load
    assert json.loads(page.inner_text("#island")) == {"data": True}
    page.click("#home")
    page.wait_for_function("document.title === 'Home'")
    page.click("#scripts")  # from the cache: run again, as a page shown anew
    page.wait_for_function("window.__runs.length === 6")
    assert page.evaluate("window.__runs") == full_load * 2
    assert same_document(page)


def test_a_fragment_scrolls_to_its_target_and_back_returns(navigation_server: Server, page: Page) -> None:
    open_page(page, navigation_server.url + "/")
    page.click("#far")
    page.wait_for_function("document.title === 'Long'")
    assert page.url == navigation_server.url + "/long#far"
    assert page.evaluate("Math.abs(document.getElementById('far').getBoundingClientRect().top)") < 5
    page.go_back()
    page.wait_for_function("document.title === 'Home'")
    assert page.evaluate("scrollY") == 0
    assert same_document(page)


def test_back_to_the_first_page_restores_its_scroll_position(navigation_server: Server, page: Page) -> None:
    open_page(page, navigation_server.url + "/long")
    page.evaluate("scrollTo(0, 1200)")
    page.wait_for_function("scrollY === 1200")
    page.evaluate("window.perseus.navigate('/scripts')")  # a click would scroll to the link
    page.wait_for_function("document.title === 'Scripts'")
    page.go_back()
    page.wait_for_function("document.title === 'Long'")
    assert page.evaluate("scrollY") == 1200  # the first page, back from a navigation


def test_the_site_works_without_javascript(basic_server: Server, browser: Browser) -> None:
    with browser_page(browser, java_script_enabled=False) as page:
        page.goto(basic_server.url + "/")
        assert "Welcome to perseus" in page.inner_text("#root")
        with page.expect_navigation(url=basic_server.url + "/about"):
            page.click("nav >> text=About")
        assert page.title() == "About"
        assert "A site built with perseus for Python." in page.inner_text("#root")
        with page.expect_navigation(url=basic_server.url + "/post/first"):
            page.click("text=Home")
            page.click("text=The first post")
        assert page.title() == "The first post"
