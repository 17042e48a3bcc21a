"""The client runtime in a real browser: headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request

from perseus.client import runtime_path
from tests.conftest import Server, browser_page
from tests.sites import expected_state


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A script error (a bad JSON.parse, an injection) fails the test.
    with browser_page(browser) as page:
        yield page


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.__perseus !== undefined")  # the client runtime has started


def page_requests(requests: list[Request]) -> list[str]:
    """What the page itself fetched (the browser may ask for a favicon on its own)."""
    return [r.url for r in requests if "favicon." not in r.url.rpartition("/")[2]]


def test_link_click_fetches_json_and_swaps_the_page(basic_server: Server, page: Page) -> None:
    open_page(page, basic_server.url + "/")
    assert page.title() == "Home"
    home_root = page.inner_html("#root")
    assert "Welcome to perseus" in home_root
    page.evaluate("window.__same_document = true")  # survives only if nothing reloads
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))

    with page.expect_response(lambda r: r.url.endswith("/.perseus/page/xx-XX/about.json")) as about:
        page.click("nav >> text=About")
    assert about.value.status == 200
    page.wait_for_function("document.title === 'About'")
    assert page.url == basic_server.url + "/about"
    assert "<h1>About</h1>" in page.inner_html("#root")
    assert page.evaluate("window.__perseus.state") is None  # the about page has no state
    assert page.evaluate("window.__same_document") is True
    assert [r.resource_type for r in requests if r.resource_type == "document"] == []
    assert page_requests(requests) == [basic_server.url + "/.perseus/page/xx-XX/about.json"]

    requests.clear()
    page.go_back()
    page.wait_for_function("document.title === 'Home'")
    assert page.url == basic_server.url + "/"
    assert page.inner_html("#root") == home_root
    assert page.evaluate("window.__perseus.state")["greeting"] == "Welcome to perseus"
    assert page.evaluate("window.__same_document") is True
    assert page_requests(requests) == [basic_server.url + "/.perseus/page/xx-XX/.json"]


def test_hostile_state_runs_no_script_and_parses_back(escaping_server: Server, page: Page) -> None:
    open_page(page, escaping_server.url + "/hostile")
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__perseus.state") == expected_state()
    # Only perseus's own scripts: its JSON islands and the runtime.
    scripts = page.eval_on_selector_all("script", "all => all.map(s => s.id || s.src)")
    assert [s for s in scripts if not s.startswith("__perseus_") and runtime_path() not in s] == []
    # The same page reached by a client-side navigation: state from the JSON endpoint.
    open_page(page, escaping_server.url + "/")
    with page.expect_response(lambda r: r.url.endswith("/.perseus/page/xx-XX/hostile.json")):
        page.click("#hostile")
    page.wait_for_function("document.querySelector('#page') !== null")
    assert page.evaluate("window.__perseus.state") == expected_state()
    assert "<script>window.__pwned = 1</script>" in page.title()  # shown as text, not run
    assert page.evaluate("window.__pwned") is None
