"""A site for the client runtime's navigations (scripts inside a page's content, a long page
with a fragment), and what the navigation tests share."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page


def open_page(page: Page, url: str) -> None:
    """Load ``url`` and mark the document: the mark survives client-side navigations only."""
    page.goto(url)
    page.wait_for_function("window.perseus !== undefined")
    page.evaluate("window.__same_document = true")


def same_document(page: Page) -> bool:
    """No full load since ``open_page``."""
    return page.evaluate("window.__same_document === true") is True

APP = '''\
from perseus import PerseusApp, Template


def layout(ctx, body):
    return ('<nav><a id="home" href="' + ctx.link("") + '">Home</a>'
            '<a id="scripts" href="' + ctx.link("scripts") + '">Scripts</a>'
            '<a id="long" href="' + ctx.link("long") + '">Long</a>'
            '<a id="far" href="' + ctx.link("long") + '#far">Far</a></nav><main>' + body + "</main>")


def scripts_view(ctx, state):
    # Each records itself in window.__runs: the order is the order they ran in.
    record = "(window.__runs = window.__runs || []).push"
    return layout(ctx, "<h1>Scripts</h1>"
                       '<script type="module">' + record + '("module")</script>'
                       "<script>" + record + '("classic")</script>'
                       '<script src="' + ctx.static("external.js") + '"></script>'
                       '<script type="application/json" id="island">{"data": true}</script>')


def long_view(ctx, state):
    return layout(ctx, '<h1>Long</h1><div style="height: 3000px"></div>'
                       '<h2 id="far">Far below</h2><div style="height: 3000px"></div>')


def title(text):
    return lambda ctx, state: "<title>" + text + "</title>"


app = PerseusApp(
    templates=[
        Template("index", view=lambda ctx, state: layout(ctx, "<h1>Home</h1>"), head=title("Home")),
        Template("scripts", view=scripts_view, head=title("Scripts")),
        Template("long", view=long_view, head=title("Long")),
    ],
    error_views={404: lambda ctx, error: layout(ctx, "<h1>Not here</h1>")},
    error_head=lambda ctx, error: "<title>Not here</title>",
    static_dir="static",
)
'''


def write_navigation_site(project: Path) -> Path:
    """The site's project directory (not built)."""
    (project / "static").mkdir(parents=True)
    (project / "app.py").write_text(APP)
    external = '(window.__runs = window.__runs || []).push("external");\n'
    (project / "static" / "external.js").write_text(external)
    return project
