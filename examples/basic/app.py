"""The basic example: build state, build paths with helper state, static files, a custom 404."""

from __future__ import annotations

from html import escape

from perseus import BuildPaths, NotFound, PerseusApp, Template

POSTS = {
    "": {"title": "All posts", "body": "Every post on this site."},
    "first": {"title": "The first post", "body": "Hello from a page built at build time."},
    "second": {"title": "Second thoughts", "body": "Pages are prerendered <em>once</em>."},
}


def layout(ctx, body: str) -> str:
    nav = (
        f'<nav><a href="{ctx.link("")}">Home</a> <a href="{ctx.link("about")}">About</a> '
        f'<a href="{ctx.link("post")}">Posts</a></nav>'
    )
    return f"{nav}<main>{body}</main>"


async def index_state(info):
    return {"greeting": "Welcome to perseus", "posts": sorted(p for p in POSTS if p)}


def index_view(ctx, state) -> str:
    items = "".join(
        f'<li><a href="{ctx.link("post/" + p)}">{escape(POSTS[p]["title"])}</a></li>' for p in state["posts"]
    )
    return layout(ctx, f"<h1>{escape(state['greeting'])}</h1><ul>{items}</ul>")


def about_view(ctx, state) -> str:
    return layout(ctx, "<h1>About</h1><p>A site built with perseus for Python.</p>")


def post_paths():
    return BuildPaths(list(POSTS), extra={"source": "the POSTS table"})


def post_state(info):
    if info.path not in POSTS:
        raise NotFound()
    return {**POSTS[info.path], "source": info.extra["source"]}


def post_view(ctx, state) -> str:
    source = f"<p><small>from {escape(state['source'])}</small></p>"
    # NOTE: post bodies are trusted HTML from the POSTS table; titles are escaped.
    return layout(ctx, f"<h1>{escape(state['title'])}</h1><p>{state['body']}</p>{source}")


def not_found(ctx, error) -> str:
    return layout(ctx, f"<h1>Nothing here</h1><p>{error.status}: that page does not exist.</p>")


app = PerseusApp(
    templates=[
        Template("index", view=index_view, build_state=index_state,
                 head=lambda ctx, state: "<title>Home</title>"),
        Template("about", view=about_view, head=lambda ctx, state: "<title>About</title>",
                 set_headers=lambda ctx, state: {"x-greeting": "Hello from about"}),
        Template("post", view=post_view, build_paths=post_paths, build_state=post_state,
                 head=lambda ctx, state: f"<title>{escape(state['title'])}</title>"),
    ],
    error_views={404: not_found},
    static_dir="static",
    static_aliases={"/robots.txt": "static/robots.txt"},
)
