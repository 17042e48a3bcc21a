"""Sites with request-time global state, written to a temporary directory.

``write_global_state_site``: a port of Perseus's ``examples/core/global_state`` (build,
request and amalgamated global state, shown by an index and an about page).
``write_every_strategy_site``: every strategy under ``request_global_state`` alone, which
echoes the ``X-Visitor`` header (and raises for ``X-Fail``).
"""

from __future__ import annotations

from pathlib import Path

# What Perseus's test asserts on both pages: the two global states, amalgamated.
MESSAGE = ("Message from the builder: 'Hello from the build process!'"
           " Message from the server: 'Hello from the server!'")

GLOBAL_STATE_APP = '''\
from html import escape

from perseus import PerseusApp, Template


async def build_global_state():
    return {"test": "Hello from the build process!"}


async def request_global_state(request):
    # Run for every request of every page: keep it cheap.
    return {"test": "Hello from the server!"}


async def amalgamate_global_states(build, request):
    return {"test": f"Message from the builder: '{build['test']}'"
                    f" Message from the server: '{request['test']}'"}


def index_page(ctx, state):
    return (f'<p id="message">{escape(ctx.global_state["test"])}</p>'
            f'<a href="{ctx.link("about")}" id="about-link">About</a>')


def about_page(ctx, state):
    return (f'<p id="message">{escape(ctx.global_state["test"])}</p>'
            f'<a href="{ctx.link("")}" id="index-link">Index</a>')


app = PerseusApp(
    templates=[
        Template("index", view=index_page, head=lambda ctx, state: "<title>Index Page</title>"),
        Template("about", view=about_page, head=lambda ctx, state: "<title>About Page</title>"),
    ],
    global_state=build_global_state,
    request_global_state=request_global_state,
    amalgamate_global_states=amalgamate_global_states,
)
'''

EVERY_STRATEGY_APP = '''\
import time
from html import escape

from perseus import BuildPaths, PerseusApp, Template


def request_global_state(request):
    if request.headers.get("x-fail"):
        raise RuntimeError("the visitor service is down")
    return {"visitor": request.headers.get("x-visitor") or "nobody"}


def view(ctx, state):
    return (f'<p id="visitor">{escape(ctx.global_state["visitor"])}</p>'
            f'<p id="state">{escape(repr(state))}</p>')


def head(ctx, state):
    return f'<meta name="visitor" content="{escape(ctx.global_state["visitor"])}">'


def page_state(info):
    return {"path": info.path, "source": info.extra}


def clock_state(info):
    return {"tick": time.time_ns()}  # a new value for each generation


def greet_state(info, request):
    return {"name": request.query.get("name", "stranger")}


def error_view(ctx, error):
    return f'<h1 id="error">{error.status}: the site could not answer</h1>'


app = PerseusApp(
    templates=[
        Template("index", view=view, head=head),
        Template("stateful", view=view, head=head, build_state=lambda info: {"built": True}),
        Template("post", view=view, head=head, build_paths=lambda: BuildPaths(["a", "b"], extra="cms"),
                 build_state=page_state),
        Template("clock", view=view, head=head, build_state=clock_state, revalidate_after="1s"),
        Template("docs", view=view, head=head, build_paths=lambda: BuildPaths(["intro"], extra="docs"),
                 build_state=page_state, incremental=True),
        Template("greet", view=view, head=head, request_state=greet_state),
    ],
    request_global_state=request_global_state,
    error_views={500: error_view},
)
'''


def write_global_state_site(project: Path) -> Path:
    """The port of Perseus's ``global_state`` example, in ``project``."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(GLOBAL_STATE_APP)
    return project


def write_every_strategy_site(project: Path) -> Path:
    """Every strategy's page under ``request_global_state``, in ``project``."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(EVERY_STRATEGY_APP)
    return project
