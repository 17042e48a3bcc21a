"""The basic example: build state, build paths with helper state, static files, a custom 404,
and an interactive page (``search``: a page script filtering the posts in the browser)."""

from __future__ import annotations

from html import escape

from perseus import BuildPaths, NotFound, PerseusApp, Template

POSTS = {
    "": {"title": "All posts", "body": "Every post on this site."},
    "first": {"title": "The first post", "body": "Hello from a page built at build time."},
    "second": {"title": "Second thoughts", "body": "Pages are prerendered <em>once</em>."},
}
NAV = [("", "Home"), ("about", "About"), ("post", "Posts"), ("search", "Search")]


def layout(ctx, body: str) -> str:
    """The frame of every page: a header with navigation, the page's main content, a footer."""
    section = ctx.path.partition("/")[0] if ctx.template else None  # None on error pages
    current = ' aria-current="page"'
    links = "".join(f'<a href="{ctx.link(path)}"{current if path == section else ""}>{label}</a>'
                    for path, label in NAV)
    brand = f'<a class="brand" href="{ctx.link("")}">perseus blog</a>'
    footer = '<footer class="site-footer"><p>Built with perseus for Python.</p></footer>'
    return f'<header class="site-header">{brand}<nav>{links}</nav></header><main>{body}</main>{footer}'


def head(ctx, title: str, description: str) -> str:
    """The head of every page: its title and description, and the site's stylesheet."""
    return (f'<title>{escape(title)}</title><meta name="description" content="{escape(description)}">'
            f'<link rel="stylesheet" href="{ctx.static("style.css")}">')


async def index_state(info):
    return {"greeting": "Welcome to perseus", "posts": sorted(p for p in POSTS if p)}


def index_view(ctx, state) -> str:
    items = "".join(
        f'<li><a href="{ctx.link("post/" + p)}">{escape(POSTS[p]["title"])}</a>'
        f'<p>{POSTS[p]["body"]}</p></li>'
        for p in state["posts"]
    )
    return layout(ctx, f"<h1>{escape(state['greeting'])}</h1>"
                       '<p class="lead">A small blog whose pages are rendered once, at build time.</p>'
                       f'<h2>Latest posts</h2><ul class="cards">{items}</ul>')


def about_view(ctx, state) -> str:
    return layout(ctx, "<h1>About</h1><p>A site built with perseus for Python.</p>"
                       "<p>Each page is rendered by a Python view when the site is built, then served"
                       " as it is; links fetch only the next page's content.</p>")


def post_paths():
    return BuildPaths(list(POSTS), extra={"source": "the POSTS table"})


def post_state(info):
    if info.path not in POSTS:
        raise NotFound()
    return {**POSTS[info.path], "source": info.extra["source"]}


def post_view(ctx, state) -> str:
    source = f'<p class="muted"><small>from {escape(state["source"])}</small></p>'
    # NOTE: post bodies are trusted HTML from the POSTS table; titles are escaped.
    return layout(ctx, f"<h1>{escape(state['title'])}</h1><p>{state['body']}</p>{source}")


def search_state(info):
    return {"posts": [{"path": p, "title": POSTS[p]["title"]} for p in sorted(POSTS) if p]}


def search_view(ctx, state) -> str:
    # NOTE: every post is listed in the HTML: without JavaScript the page still links them
    # all, and static/search.js (mounted on this page) hides the ones the filter leaves out.
    items = "".join(f'<li data-title="{escape(post["title"].lower())}">'
                    f'<a href="{ctx.link("post/" + post["path"])}">{escape(post["title"])}</a></li>'
                    for post in state["posts"])
    return layout(ctx, "<h1>Search</h1>"
                       '<form class="search" role="search" hidden><label for="search-query">Filter the posts'
                       '</label><input id="search-query" type="search" autocomplete="off"'
                       ' placeholder="Type part of a title"></form>'
                       f'<p class="muted" id="search-count" aria-live="polite">{len(state["posts"])} posts</p>'
                       f'<ul class="cards" id="search-results">{items}</ul>')


def not_found(ctx, error) -> str:
    return layout(ctx, f"<h1>Nothing here</h1><p>{error.status}: that page does not exist.</p>"
                       f'<p><a href="{ctx.link("")}">Back to the home page</a></p>')


app = PerseusApp(
    templates=[
        Template("index", view=index_view, build_state=index_state,
                 head=lambda ctx, state: head(ctx, "Home", "A small blog built with perseus for Python.")),
        Template("about", view=about_view,
                 head=lambda ctx, state: head(ctx, "About", "What this site is and how it is built."),
                 set_headers=lambda ctx, state: {"x-greeting": "Hello from about"}),
        Template("post", view=post_view, build_paths=post_paths, build_state=post_state,
                 head=lambda ctx, state: head(ctx, state["title"], f"{state['title']}, on this blog.")),
        Template("search", view=search_view, build_state=search_state, scripts=["search.js"],
                 head=lambda ctx, state: head(ctx, "Search", "Filter the posts of this blog by title.")),
    ],
    error_views={404: not_found},
    error_head=lambda ctx, error: head(ctx, f"{error.status} {error.message}", "This page is not available."),
    static_dir="static",
    static_aliases={"/robots.txt": "static/robots.txt"},
)
