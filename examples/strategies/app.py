"""Every request-time strategy: request state, amalgamation, revalidation (time and logic), incremental.

``data/`` stands in for a CMS: ``news.stale`` marks the news page as changed
(``news.check-fails`` makes checking for that fail),
``flaky.fail`` makes the flaky page's data source fail, ``slow.hang`` makes
the slow page's hang, and every generation is
appended to ``data/generations.log`` (or ``STRATEGIES_LOG``) (one line per call, from any worker).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from html import escape
from pathlib import Path

from perseus import BuildPaths, NotFound, PerseusApp, Template

DATA = Path(__file__).resolve().parent / "data"
GENERATIONS_LOG = Path(os.environ.get("STRATEGIES_LOG") or DATA / "generations.log")
CLOCK_INTERVAL = os.environ.get("STRATEGIES_CLOCK_INTERVAL", "10s")
GENERATION_DELAY = float(os.environ.get("STRATEGIES_GENERATION_DELAY", "0"))
_counter = itertools.count(1)


def generation(template: str, path: str, busy: int = 1) -> str:
    """A new generation id, logged so that generations can be counted across workers.

    ``busy`` (the last column) is how many generations ran at once in this process.
    """
    gen = f"{os.getpid()}-{next(_counter)}-{time.monotonic_ns()}"
    with open(GENERATIONS_LOG, "a") as log:
        log.write(f"{template} {path or '-'} {gen} {busy}\n")
    return gen


def consume(flag: Path) -> None:
    """Remove a CMS flag once acted on (checked first: the data directory may be read-only)."""
    if flag.exists():
        flag.unlink(missing_ok=True)


# Every page of the site, with what it shows: the index lists them.
PAGES = [
    ("greet?name=Ada", "Request state", "rendered for every request, from its query, cookies and headers"),
    ("merged?q=fresh", "Amalgamation", "build state and request state merged per request"),
    ("clock", "Revalidation by time", f"regenerated in the background every {CLOCK_INTERVAL}"),
    ("news", "Revalidation by logic", "regenerated when the CMS says the news changed"),
    ("flaky", "A failing data source", "keeps its last good version while its source fails"),
    ("slow", "A hanging data source", "abandoned by the generation timeout"),
    ("post/a", "Incremental generation", "built post a; any other post is generated on its first visit"),
]


def layout(ctx, body: str) -> str:
    """The frame of every page: a header with navigation, the page's main content, a footer."""
    return (
        f'<header class="site-header"><a class="brand" href="{ctx.link("")}">Strategies</a>'
        f'<nav><a href="{ctx.link("")}">Every strategy</a><a href="{ctx.link("post/a")}">A post</a></nav>'
        f"</header><main>{body}</main>"
        '<footer class="site-footer"><p>Each page here is served by another rendering strategy.</p></footer>'
    )


def head(ctx, title: str) -> str:
    """The head of every page: its title, the site's description and stylesheet."""
    return (f"<title>{escape(title)}</title>"
            '<meta name="description" content="Every rendering strategy of perseus, one page each.">'
            f'<link rel="stylesheet" href="{ctx.static("style.css")}">')


def index_view(ctx, state) -> str:
    items = "".join(f'<li><a href="{ctx.link(path)}">{name}</a><p>{what}</p></li>'
                    for path, name, what in PAGES)
    return layout(ctx, '<h1>Strategies</h1><p class="lead">One page for each way perseus renders a page.</p>'
                       f'<ul class="cards">{items}</ul>')


def versioned_view(ctx, state) -> str:
    return layout(ctx, f'<h1>{escape(state["title"])}</h1><p id="gen">{state["gen"]}</p>'
                       '<p class="muted">The line above is this version\'s generation id.</p>')


def versioned_head(ctx, state) -> str:
    return head(ctx, state["title"]) + f'<meta name="gen" content="{state["gen"]}">'


# Request state: rendered for every request, never stored.
async def greet_state(info, request):
    return {
        "name": request.query.get("name", "stranger"),
        "flavour": request.cookies.get("flavour"),
        "agent": request.headers.get("User-Agent"),
        "visitor": request.headers.get("X-Visitor"),
    }


def greet_view(ctx, state) -> str:
    visitor = state["visitor"] or "anonymous"
    return layout(ctx, f'<h1>Hello, {escape(state["name"])}!</h1>'
                       f'<h2>Your flavour cookie</h2><p id="flavour">{escape(str(state["flavour"]))}</p>'
                       f'<h2>Your X-Visitor header</h2><p id="visitor">{escape(visitor)}</p>')


# Amalgamation: build state and request state merged per request (sync, so run in the pool).
def merged_build(info):
    return {"built": "at build time", "shared": "from the build"}


def merged_request(info, request):
    return {"asked": request.query.get("q", ""), "shared": "from the request"}


def merged_amalgamate(info, build, request):
    return {**build, **request, "merged": True}


def merged_view(ctx, state) -> str:
    merged = f'{escape(state["built"])} + {escape(state["asked"])} ({state["shared"]})'
    return layout(ctx, f'<h1>Amalgamation</h1><p id="merged">{merged}</p>')


# Revalidation by time.
async def clock_state(info):
    return {"title": "Clock", "gen": generation("clock", info.path), "at": time.time()}


# Revalidation by logic: regenerate when the CMS marks the news as changed.
def news_changed(info, request) -> bool:
    if (DATA / "news.check-fails").exists():
        generation("news-check", info.path)  # counts the attempts
        raise ConnectionError("the CMS status API is down")
    return (DATA / "news.stale").exists()


def news_state(info):
    consume(DATA / "news.stale")
    return {"title": "News", "gen": generation("news", info.path)}


# Revalidation whose data source can fail: the last good version keeps being served.
def flaky_state(info):
    if (DATA / "flaky.fail").exists():
        raise ConnectionError("the news API is down")
    return {"title": "Flaky", "gen": generation("flaky", info.path)}


# Revalidation whose data source can hang: the generation timeout abandons it.
async def slow_state(info):
    if (DATA / "slow.hang").exists():
        await asyncio.sleep(3600)
    return {"title": "Slow", "gen": generation("slow", info.path)}


# Incremental generation: 'a' is built, any other post is generated on its first request;
# '<post>.stale' asks for it to be regenerated, '<post>.deleted' says it no longer exists.
NAME_MAX = 255  # bytes in a file name (Linux filesystems)


def post_flag(slug: str, flag: str) -> Path:
    """The file of one of a post's CMS flags (``stale``, ``deleted``).

    A slug that cannot name such a file is no post: one with a "/", or too long with
    its suffix (the file system would refuse the name: ENAMETOOLONG, an error, a 500).
    """
    if "/" in slug or len(os.fsencode(f"{slug}.deleted")) > NAME_MAX:
        raise NotFound()
    return DATA / f"{slug}.{flag}"


def post_changed(info, request) -> bool:
    return post_flag(info.path, "stale").exists()


def post_paths():
    return BuildPaths(["a"], extra={"source": "the posts API"})


_posts_in_progress = 0


async def post_state(info):
    global _posts_in_progress
    _posts_in_progress += 1
    try:
        if GENERATION_DELAY:
            await asyncio.sleep(GENERATION_DELAY)
        if info.path.startswith("missing") or post_flag(info.path, "deleted").exists():
            raise NotFound()
        if info.path == "boom":
            raise RuntimeError("the posts API returned garbage")
        consume(post_flag(info.path, "stale"))
        return {"title": f"Post {info.path}", "gen": generation("post", info.path, _posts_in_progress),
                "source": info.extra["source"]}
    finally:
        _posts_in_progress -= 1


def error_view(ctx, error) -> str:
    # error.message is the status's reason (or an HTTPError's message), never exception text.
    return layout(ctx, f"<h1>{error.status}</h1><p>{escape(error.message.capitalize())}.</p>"
                       f'<p><a href="{ctx.link("")}">Back to every strategy</a></p>')


app = PerseusApp(
    templates=[
        Template("index", view=index_view, head=lambda ctx, state: head(ctx, "Strategies")),
        Template("greet", view=greet_view, request_state=greet_state,
                 head=lambda ctx, state: head(ctx, f"Hello {state['name']}")),
        Template("merged", view=merged_view, build_state=merged_build, request_state=merged_request,
                 amalgamate_states=merged_amalgamate, head=lambda ctx, state: head(ctx, "Amalgamation")),
        Template("clock", view=versioned_view, head=versioned_head, build_state=clock_state,
                 revalidate_after=CLOCK_INTERVAL),
        Template("news", view=versioned_view, head=versioned_head, build_state=news_state,
                 should_revalidate=news_changed),
        Template("flaky", view=versioned_view, head=versioned_head, build_state=flaky_state,
                 revalidate_after="1s"),
        Template("slow", view=versioned_view, head=versioned_head, build_state=slow_state,
                 revalidate_after="1s"),
        Template("post", view=versioned_view, head=versioned_head, build_paths=post_paths,
                 build_state=post_state, incremental=True, should_revalidate=post_changed),
    ],
    # NOTE: no request_global_state here: it would render every page per request, and each
    # page of this site shows one strategy (tests/global_state_site.py has one).
    global_state=lambda: {"site": "Strategies"},
    error_views={404: error_view, 500: error_view},
    error_head=lambda ctx, error: head(ctx, f"{error.status} {error.message}"),
    static_dir="static",
    static_aliases={"/robots.txt": "static/robots.txt"},
)
