"""The site every fault scenario serves: each route kind, two locales, and canaries outside its roots.

Routes (locales en-US and fr-FR; ``/<path>`` without a locale redirects), ``<l>`` a locale:

- prerendered: ``/<l>`` (build state), ``/<l>/about`` (no state, ``set_headers``);
- incremental: ``/<l>/post/first`` and ``second`` are built, any other slug is generated on
  its first request (``missing*`` is a 404, ``boom`` the one intended 500);
- revalidating: ``/<l>/clock`` by time (``FAULTS_SITE_CLOCK``, default 1s), ``/<l>/news`` by logic;
- request state: ``/<l>/greet`` (async), ``/<l>/greet-sync``, ``/<l>/merged`` (amalgamation),
  which read the query, cookies and headers; ``/<l>/slow`` takes ``FAULTS_SITE_SLOW`` seconds;
- user code that never returns when ``FAULTS_SITE_HANG=1`` (otherwise quick): ``/<l>/hang-sync``
  and ``/<l>/hang-async`` (request state), ``/<l>/stuck/hang*`` (the sync build state of an
  incremental first request);
- static: ``/.perseus/static/...`` and the alias ``/robots.txt``;
- perseus's own: ``/.perseus/page/<l>/<path>.json``, ``/.perseus/translations/<l>``,
  ``/.perseus/client.js``.

The app reads ``FAULTS_SITE_*`` variables (never ``PERSEUS_*``: perseus refuses names it
does not know). Every body names the process and generation that made it (``<p id="gen">``),
so a test can tell a stored version from a regeneration.
"""

from __future__ import annotations

import secrets
from pathlib import Path

# A token that only files outside the served roots hold: no answer may ever contain it.
CANARY = "canary-" + secrets.token_hex(16)
LOCALES = ("en-US", "fr-FR")
INTENDED_500 = "boom"  # the slug whose build state raises: its 500 is the contract

APP = '''\
# {canary}
from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from html import escape

from perseus import BuildPaths, Locales, NotFound, PerseusApp, Template

HANG = os.environ.get("FAULTS_SITE_HANG") == "1"
CLOCK = os.environ.get("FAULTS_SITE_CLOCK") or "1s"
SLOW = float(os.environ.get("FAULTS_SITE_SLOW") or "0")
NEVER = 3600.0
_counter = itertools.count(1)


def generation() -> str:
    return f"{{os.getpid()}}-{{next(_counter)}}-{{time.monotonic_ns()}}"


def layout(ctx, body: str) -> str:
    return (f'<nav><a href="{{ctx.link("")}}">{{escape(ctx.t("home"))}}</a>'
            f' <a href="{{ctx.link("about")}}">{{escape(ctx.t("about"))}}</a></nav><main>{{body}}</main>')


def versioned(ctx, state) -> str:
    return layout(ctx, f'<h1>{{escape(state["title"])}}</h1><p id="gen">{{state["gen"]}}</p>')


def title(ctx, state) -> str:
    return f"<title>{{escape((state or {{}}).get('title', ctx.t('home')))}}</title>"


def index_state(info):
    return {{"title": "Home", "gen": generation(), "locale": info.locale}}


def post_paths():
    return BuildPaths(["first", "second"], extra={{"source": "faults"}})


async def post_state(info):
    if info.path.startswith("missing"):
        raise NotFound()
    if info.path == "{boom}":
        raise RuntimeError("the posts API returned garbage")
    return {{"title": f"Post {{info.path}}", "gen": generation(), "source": info.extra["source"]}}


def clock_state(info):
    return {{"title": "Clock", "gen": generation(), "at": time.time()}}


def news_state(info):
    return {{"title": "News", "gen": generation()}}


def news_changed(info, request) -> bool:
    return random.random() < 0.2


def visitor_state(info, request):
    return {{"title": "Hello " + request.query.get("name", "stranger"), "gen": generation(),
            "cookie": request.cookies.get("flavour"), "agent": request.headers.get("user-agent"),
            "language": request.headers.get("accept-language"), "visitor": request.headers.get("x-visitor")}}


async def greet_state(info, request):
    return visitor_state(info, request)


def merged_build(info):
    return {{"built": True, "gen": generation()}}


def merged_amalgamate(info, build, request):
    return {{**build, **request, "title": "Merged"}}


async def slow_state(info, request):
    await asyncio.sleep(SLOW)
    return {{"title": "Slow", "gen": generation()}}


def hang_sync(info, request):
    if HANG:
        time.sleep(NEVER)  # an upstream API that never answers, called without a timeout
    return {{"title": "Hang sync", "gen": generation()}}


async def hang_async(info, request):
    if HANG:
        await asyncio.sleep(NEVER)
    return {{"title": "Hang async", "gen": generation()}}


def stuck_state(info):
    if HANG and info.path.startswith("hang"):
        time.sleep(NEVER)
    return {{"title": "Stuck " + info.path, "gen": generation()}}


def greeting(ctx, state) -> str:
    visitor = state.get("visitor") or "anonymous"
    return versioned(ctx, state) + f'<p id="visitor">{{escape(str(visitor))}}</p>'


def error_view(ctx, error) -> str:
    return f'<h1 id="faults-error">{{error.status}}</h1><p>{{escape(ctx.t("sorry"))}}</p>'


app = PerseusApp(
    templates=[
        Template("index", view=versioned, head=title, build_state=index_state),
        Template("about", view=lambda ctx, state: layout(ctx, "<h1>About</h1>"), head=title,
                 set_headers=lambda ctx, state: {{"x-faults": "about"}}),
        Template("post", view=versioned, head=title, build_paths=post_paths, build_state=post_state,
                 incremental=True),
        Template("clock", view=versioned, head=title, build_state=clock_state, revalidate_after=CLOCK),
        Template("news", view=versioned, head=title, build_state=news_state, should_revalidate=news_changed),
        Template("greet", view=greeting, head=title, request_state=greet_state),
        Template("greet-sync", view=greeting, head=title, request_state=visitor_state),
        Template("merged", view=versioned, head=title, build_state=merged_build, request_state=visitor_state,
                 amalgamate_states=merged_amalgamate),
        Template("slow", view=versioned, head=title, request_state=slow_state),
        Template("hang-sync", view=versioned, head=title, request_state=hang_sync),
        Template("hang-async", view=versioned, head=title, request_state=hang_async),
        Template("stuck", view=versioned, head=title, build_paths=lambda: ["ok"], build_state=stuck_state,
                 incremental=True),
    ],
    locales=Locales("en-US", ["fr-FR"]),
    global_state=lambda: {{"site": "faults"}},
    error_views={{status: error_view for status in (400, 404, 405, 500, 503, 504)}},
    static_dir="static",
    static_aliases={{"/robots.txt": "static/robots.txt"}},
)
'''

TRANSLATIONS = {
    "en-US": "home = Home\nabout = About\nsorry = Sorry.\n",
    "fr-FR": "home = Accueil\nabout = À propos\nsorry = Désolé.\n",
}


def write_site(project: Path) -> None:
    """Write the site into ``project``, with canary files next to (never inside) its roots."""
    static = project / "static"
    (static / "sub").mkdir(parents=True)
    (project / "app.py").write_text(APP.format(canary=CANARY, boom=INTENDED_500))
    (static / "robots.txt").write_text("User-agent: *\n")
    (static / "style.css").write_text("body { margin: 0 }\n")
    (static / "sub" / "inner.txt").write_text("inner\n")
    (project / "translations").mkdir()
    for locale, text in TRANSLATIONS.items():
        (project / "translations" / f"{locale}.ftl").write_text(text)
    # Canaries: the project root, siblings sharing the static root's and translations' prefix,
    # a directory beside the project, and a symlink inside the static root pointing out of it.
    for canary in (project / "secret.txt", project / "static1.txt", project / "static_private" / "secret.txt",
                   project / "translations_private" / "en-US.ftl", project.parent / "outside" / "secret.txt"):
        canary.parent.mkdir(parents=True, exist_ok=True)
        canary.write_text(CANARY)
    (static / "escape").symlink_to("../static_private")
