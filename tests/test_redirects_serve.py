"""Redirects and statuses from state functions, through real granian (tests/redirect_site.py).

Pages built as redirects, fixed redirects (``redirects=``), redirects and HTTP errors raised
by request state, by a first generation and by regenerations, on the HTML and JSON routes
and HEAD; the open-redirect catalogue followed by Chromium.
"""

from __future__ import annotations

import http
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import Server, browser_page, perseus
from tests.processes import wait_for
from tests.redirect_site import write_redirect_site
from tests.strategies import stored_records
from tests.test_redirect_targets import OPEN_REDIRECTS

ENV = {"PERSEUS_RETRY_BACKOFF": "0.2"}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
JSON_OF = "/.perseus/page/xx-XX/{}.json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_redirect_site(tmp_path_factory.mktemp("redirects") / "site")
    perseus("build", cwd=project, env=ENV)
    return project


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[Server]:
    server = Server(site, env=ENV)
    yield server
    server.close()


def _redirected(response: httpx.Response, status: int, location: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["location"] == location
    if response.request.method != "HEAD":
        assert f'href="{location}"' in response.text.replace("&amp;", "&")


def test_a_page_built_as_a_redirect(server: Server, site: Path) -> None:
    for path in ("/moved", "/moved/"):
        response = server.get(path)
        _redirected(response, 308, "/new")
        assert response.headers["cache-control"] == "public, max-age=0, must-revalidate"
    head = server.client.head("/moved")
    assert (head.status_code, head.headers["location"], head.content) == (308, "/new", b"")
    data = server.get(JSON_OF.format("moved"))
    assert data.status_code == 200 and data.json() == {"redirect": "/new", "status": 308}
    _redirected(server.get("/away"), 302, "https://example.com/landing")
    assert server.get(JSON_OF.format("away")).json() == {"redirect": "https://example.com/landing",
                                                         "status": 302}
    # Built into dist/ as a redirect, never as a page (nor into the mutable store).
    assert b"moved" not in (site / "dist" / "pages.paths").read_bytes()


def test_fixed_redirects_are_answered_before_any_page(server: Server) -> None:
    _redirected(server.get("/old"), 308, "/new")
    _redirected(server.get("/old/?a=1&b=%20"), 308, "/new?a=1&b=%20")  # the query is passed on
    _redirected(server.get("/perm"), 301, "/new")
    _redirected(server.get("/elsewhere?x=1"), 307, "https://example.org/?x=1")
    post = server.client.post("/old", content=b"form")
    assert (post.status_code, post.headers["location"]) == (308, "/new")  # 308 repeats the POST there
    head = server.client.head("/old")
    assert (head.status_code, head.content) == (308, b"")
    assert server.get(JSON_OF.format("old")).json() == {"redirect": "/new", "status": 308}
    assert server.get("/new").status_code == 200
    assert server.get("/old/deeper").status_code == 404


@pytest.mark.parametrize("status", REDIRECT_STATUSES)
def test_request_state_redirects_with_every_status(server: Server, status: int) -> None:
    params = {"to": "/new?from=ask", "status": str(status)}
    response = server.get("/ask", params=params)
    _redirected(response, status, "/new?from=ask")
    assert response.headers["cache-control"] == "private, no-store"
    head = server.client.head("/ask", params=params)
    assert (head.status_code, head.headers["location"], head.content) == (status, "/new?from=ask", b"")
    data = server.get(JSON_OF.format("ask"), params=params)
    assert data.status_code == 200 and data.json() == {"redirect": "/new?from=ask", "status": status}
    assert data.headers["cache-control"] == "private, no-store"


def test_an_external_redirect_only_when_asked_for(server: Server) -> None:
    asked = server.get("/ask", params={"to": "https://example.com/x", "status": "302", "external": "1"})
    _redirected(asked, 302, "https://example.com/x")
    refused = server.get("/ask", params={"to": "https://example.com/x"})
    assert refused.status_code == 500 and "location" not in refused.headers
    assert "example.com" not in refused.text and "BadRedirect" not in refused.text


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_open_redirect_catalogue_is_refused(server: Server, target: str) -> None:
    response = server.get("/ask", params={"to": target})
    assert response.status_code == 500, response.headers
    assert "location" not in response.headers
    # No exception text, and nothing of the target, reaches the page.
    assert "Traceback" not in response.text and "BadRedirect" not in response.text
    assert "evil" not in response.text


def test_every_error_status_is_answered_through_the_error_view(server: Server) -> None:
    statuses = range(400, 600)
    with httpx.Client(base_url=server.url, timeout=10) as client:  # one keep-alive connection
        for status in statuses:
            response = client.get("/ask", params={"status": str(status), "message": "SECRET <b>"})
            assert response.status_code == status
            assert response.headers["cache-control"] == "no-store"
            assert f"<h1>{status}</h1>" in response.text or status == 410
            assert "SECRET" not in response.text or status == 410  # only the 410 view shows it
            data = client.get(JSON_OF.format("ask"), params={"status": str(status)})
            assert data.status_code == status
            assert data.json()["error"]["status"] == status
            head = client.head("/ask", params={"status": str(status)})
            assert (head.status_code, head.content) == (status, b"")
    teapot = server.get("/ask", params={"status": "418"})
    assert "<title>418 i" in teapot.text and "teapot</title>" in teapot.text
    gone = server.get("/ask", params={"status": "410", "message": "SECRET <b>"})
    assert '<h1 id="gone">SECRET &lt;b&gt;</h1>' in gone.text  # the app's view, escaping it
    assert '<h1 id="gone">gone</h1>' in server.get("/ask", params={"status": "410"}).text
    assert server.get("/new").status_code == 200


def test_a_first_generation_that_redirects_or_fails_stores_nothing(server: Server, site: Path) -> None:
    before = stored_records(site)
    for _ in range(2):
        _redirected(server.get("/inc/moved-1"), 302, "/new?from=moved-1")
        assert server.get(JSON_OF.format("inc/moved-1")).json() == {"redirect": "/new?from=moved-1",
                                                                    "status": 302}
        gone = server.get("/inc/gone")
        assert gone.status_code == 410
        assert '<h1 id="gone">&lt;b&gt;removed by the editor&lt;/b&gt;</h1>' in gone.text
        assert server.get(JSON_OF.format("inc/gone")).status_code == 410
        assert server.get("/inc/teapot").status_code == 418
        assert server.get("/inc/missing").status_code == 404
        assert server.client.head("/inc/moved-1").status_code == 302
    assert stored_records(site) == before
    assert server.get("/inc/fresh").status_code == 200
    assert stored_records(site) == before + 1


def _status_once_regenerated(server: Server, path: str, status: int) -> None:
    # A due page is answered stale while its regeneration runs; the answers after show it.
    wait_for(lambda: server.get(path).status_code == status, 15, f"{path} answering {status}")


def test_a_generated_page_that_starts_redirecting_is_removed(server: Server, site: Path) -> None:
    assert server.get("/inc/flip").status_code == 200
    stored = stored_records(site)
    (site / "data" / "flip.switch").write_text("redirect")
    _status_once_regenerated(server, "/inc/flip", 301)
    _redirected(server.get("/inc/flip"), 301, "/new")
    assert stored_records(site) == stored - 1  # removed, like a page whose source is gone
    (site / "data" / "flip.switch").write_text("")
    _status_once_regenerated(server, "/inc/flip", 200)
    assert stored_records(site) == stored


def test_a_generated_page_that_becomes_gone_answers_410(server: Server, site: Path) -> None:
    assert server.get("/inc/later").status_code == 200
    stored = stored_records(site)
    (site / "data" / "later.switch").write_text("410")
    _status_once_regenerated(server, "/inc/later", 410)
    assert stored_records(site) == stored - 1
    (site / "data" / "later.switch").write_text("503")  # an error that is not "gone": nothing to remove
    assert server.get("/inc/later").status_code == 503  # generated per request: nothing is stored


def test_a_built_page_keeps_its_last_good_version(server: Server, site: Path) -> None:
    assert server.get("/news").status_code == 200
    (site / "data" / "root.switch").write_text("redirect")
    log = site / f"server-{server.port}.log"
    wait_for(lambda: server.get("/news").status_code == 200 and "cannot become" in log.read_text(), 15,
             "the failed regeneration logged")
    # NOTE: taken once a regeneration failed: one that began before the switch was written
    # may still have stored a good version, which is then the last good one.
    kept = server.get("/news")
    assert kept.status_code == 200
    (site / "data" / "version").write_text("2")
    failed = log.read_text().count("cannot become")
    wait_for(lambda: server.get("/news").status_code == 200
             and log.read_text().count("cannot become") > failed, 15, "a later regeneration failing too")
    for _ in range(3):
        response = server.get("/news")
        assert response.status_code == 200 and response.text == kept.text
    (site / "data" / "root.switch").write_text("")
    wait_for(lambda: "&#x27;version&#x27;: &#x27;2&#x27;" in server.get("/news").text
             or "'version': '2'" in server.get("/news").text, 15, "the next good version")


def test_should_revalidate_raising_a_redirect_is_a_failed_check(server: Server, site: Path) -> None:
    first = server.get("/checked/page")
    assert first.status_code == 200
    stored = stored_records(site)
    (site / "data" / "check.switch").write_text("redirect")
    log = site / f"server-{server.port}.log"
    wait_for(lambda: server.get("/checked/page").status_code == 200
             and "should_revalidate raised Redirect" in log.read_text(), 15, "the failed check logged")
    assert server.get("/checked/page").text == first.text  # kept: a check is no answer
    assert stored_records(site) == stored


def test_browsers_never_leave_the_site(server: Server, browser: Browser) -> None:
    accepted = ["/%2f%2fevil.com", "/.//evil.com", "/a\\b", "/%5Cevil.com", "/new?x=//evil.com#//evil.com",
                "/%09/evil.com", "/%2F%5Cevil.com", "/%0d%0a/evil.com"]
    with browser_page(browser) as page:
        for target in accepted:
            page.goto(server.url + "/ask?" + str(httpx.QueryParams({"to": target})))
            assert page.url.startswith(server.url + "/"), (target, page.url)
        # And what the server itself answers for such paths (the redirects' targets) stays here too.
        for target in accepted:
            response = server.get("/ask", params={"to": target})
            assert response.status_code == 307 and response.headers["location"].startswith("/")


def test_client_navigation_follows_a_redirect_in_place(server: Server, browser: Browser) -> None:
    with browser_page(browser) as page:
        page.goto(server.url + "/")
        page.wait_for_function("window.__perseus !== undefined")
        page.evaluate("window.__same_document = true")
        with page.expect_response(lambda r: r.url.endswith(JSON_OF.format("new"))):
            page.click("#moved")
        page.wait_for_function("document.getElementById('page').textContent === 'new'")
        assert page.url == server.url + "/new"
        assert page.evaluate("window.__same_document") is True
        length = page.evaluate("history.length")
        with page.expect_response(lambda r: r.url.endswith(JSON_OF.format("new"))):
            page.click("#old")  # a fixed redirect, followed the same way
        page.wait_for_function(f"history.length === {length + 1}")
        assert page.url == server.url + "/new"
        assert page.evaluate("window.__same_document") is True


def test_reason_phrases_come_from_the_standard(server: Server) -> None:
    # The plain page's text is the status's standard message, never a user's.
    response = server.get("/ask", params={"status": "451", "message": "<script>x</script>"})
    assert http.HTTPStatus(451).phrase.lower() in response.text
    assert "<script>x</script>" not in response.text
