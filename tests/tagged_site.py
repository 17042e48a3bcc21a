"""A site whose state functions tag their pages (``perseus.State``), for revalidation by tag."""

from __future__ import annotations

from pathlib import Path

# The token the tests' servers are given, and how a request sends it.
TOKEN = "t0ken-" + "a1B2c3D4" * 5
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROUTE = "/.perseus/revalidate"

TAGGED_APP = '''\
"""Posts tagged by id, author and "posts"; an about page tagged too (prerendered); a greeting
whose request state is tagged (ignored). Every generation is logged to data/generations.log."""

import itertools
import os
import time
from html import escape
from pathlib import Path

from perseus import NotFound, PerseusApp, State, Template

DATA = Path(__file__).resolve().parent / "data"
AUTHORS = {"1": "ada", "2": "ada", "3": "grace"}
_counter = itertools.count(1)


def generation(template, path):
    gen = f"{os.getpid()}-{next(_counter)}-{time.monotonic_ns()}"
    with open(DATA / "generations.log", "a") as log:
        log.write(f"{template} {path or '-'} {gen}\\n")
    return gen


def view(ctx, state):
    return f'<h1>{escape(state["title"])}</h1><p id="gen">{state["gen"]}</p>'


def head(ctx, state):
    return f'<title>{escape(state["title"])}</title><meta name="gen" content="{state["gen"]}">'


def post_state(info):
    if info.path.startswith("missing"):
        raise NotFound()
    tags = [f"post:{info.path}", f"author:{AUTHORS.get(info.path, 'guest')}", "posts"]
    if info.path == "bad-tag":
        tags.append("not a tag")
    extra = DATA / "extra-tag"  # the CMS gave the posts one more tag (at build or regeneration)
    if extra.exists():
        tags.append(extra.read_text().strip())
    return State({"title": f"Post {info.path}", "gen": generation("post", info.path)}, tags=tags)


def about_state(info):
    return State({"title": "About", "gen": "built"}, tags=["posts", "about"])


def greet_state(info, request):
    return State({"title": "Hello", "gen": "per-request"}, tags=["posts"])


app = PerseusApp(templates=[
    Template("index", view=lambda ctx, state: "<h1>Home</h1>"),
    Template("post", view=view, head=head, build_paths=lambda: ["1", "2", "3"], build_state=post_state,
             revalidate_after="1h", incremental=True),
    Template("about", view=view, head=head, build_state=about_state),
    Template("greet", view=view, head=head, request_state=greet_state),
])
'''


def write_tagged_site(project: Path) -> Path:
    """The tagged site in ``project`` (not built)."""
    (project / "data").mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(TAGGED_APP)
    return project


def generations(site: Path, path: str) -> int:
    """How many times post ``path`` was generated (any process)."""
    lines = (site / "data" / "generations.log").read_text().splitlines()
    return sum(1 for line in lines if line.split()[:2] == ["post", path])
