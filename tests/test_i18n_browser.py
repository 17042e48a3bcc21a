"""The client runtime with i18n in headless Chromium: negotiation, JSON navigation, switching locale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request

from tests.conftest import Server, browser_page


@pytest.fixture
def french_page(browser: Browser) -> Iterator[Page]:
    # The context's locale is what the browser sends as Accept-Language.
    with browser_page(browser, locale="fr-FR") as page:
        yield page


def test_french_browser_lands_in_french_and_navigates_by_json(i18n_server: Server, french_page: Page) -> None:
    page = french_page
    page.goto(i18n_server.url + "/about")
    page.wait_for_function("window.__perseus !== undefined")
    assert page.url == i18n_server.url + "/fr-FR/about"  # one server-side redirect
    assert page.evaluate("document.documentElement.lang") == "fr-FR"
    assert page.title() == "À propos de ce site"
    page.evaluate("window.__same_document = true")
    documents: list[Request] = []
    page.on("request", lambda r: documents.append(r) if r.resource_type == "document" else None)

    with page.expect_response(lambda r: r.url.endswith("/.perseus/page/fr-FR/post.json")) as posts:
        page.click("nav >> text=Articles")
    assert posts.value.status == 200
    page.wait_for_function("document.title === 'Articles'")
    assert page.url == i18n_server.url + "/fr-FR/post"

    with page.expect_response(lambda r: r.url.endswith("/.perseus/page/en-US/post.json")):
        page.click("nav >> text=en-US")
    page.wait_for_function("document.title === 'Posts'")
    assert page.url == i18n_server.url + "/en-US/post"
    assert page.evaluate("document.documentElement.lang") == "en-US"
    assert "Post “\u2068first\u2069”" in page.inner_text("#root")
    assert page.evaluate("window.__same_document") is True
    assert documents == []
