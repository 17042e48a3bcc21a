"""A site whose state functions redirect and raise HTTP errors, at build and request time.

What a page does is read from files in ``data/`` (``data/<name>``), so a test can switch a
page from serving to redirecting between two regenerations.
"""

from __future__ import annotations

from pathlib import Path

APP = '''\
from html import escape
from pathlib import Path

from perseus import HTTPError, NotFound, PerseusApp, Redirect, Template

DATA = Path(__file__).parent / "data"


def switch(name):
    path = DATA / name
    return path.read_text().strip() if path.exists() else ""


def view(ctx, state):
    return ('<h1 id="page">' + escape(ctx.path or "home") + "</h1><p id=state>" + escape(str(state))
            + '</p><a id="old" href="' + ctx.link("old") + '">old</a>'
            + '<a id="moved" href="' + ctx.link("moved") + '">moved</a>')


def moved_state(info):
    raise Redirect("/new", status=308)


def request_state(info, request):
    to = request.query.get("to")
    status = request.query.get("status")
    if to is not None:
        raise Redirect(to, status=int(status or 307), external=request.query.get("external") == "1")
    if status is not None:
        raise HTTPError(int(status), request.query.get("message"))
    return {"asked": "nothing"}


def sometimes_state(info):
    # What the page is now: "" serves it, "redirect" sends to /new, a number answers that status.
    what = switch(f"{info.path or 'root'}.switch")
    if what == "redirect":
        raise Redirect("/new", status=301)
    if what.isdigit():
        raise HTTPError(int(what))
    return {"page": info.path, "version": switch("version")}


def inc_state(info):
    if info.path.startswith("moved"):
        raise Redirect("/new?from=" + info.path, status=302)
    if info.path == "gone":
        raise HTTPError(410, "<b>removed by the editor</b>")
    if info.path == "teapot":
        raise HTTPError(418)
    if info.path == "missing":
        raise NotFound()
    return sometimes_state(info)


def check(info, request):
    if switch("check.switch") == "redirect":
        raise Redirect("/new")  # no answer from here: a failed check
    return True


def gone_view(ctx, error):
    return '<h1 id="gone">' + escape(error.message) + "</h1>"


app = PerseusApp(
    templates=[
        Template("index", view=view),
        Template("new", view=view),
        Template("moved", view=view, build_state=moved_state),
        Template("away", view=view, build_state=lambda info: (_ for _ in ()).throw(
            Redirect("https://example.com/landing", status=302, external=True))),
        Template("ask", view=view, request_state=request_state),
        Template("inc", view=view, build_paths=lambda: ["built"], build_state=inc_state, incremental=True,
                 revalidate_after="1s"),
        Template("news", view=view, build_state=sometimes_state, revalidate_after="1s"),
        Template("checked", view=view, build_paths=lambda: [], build_state=sometimes_state, incremental=True,
                 revalidate_after="1s", should_revalidate=check),
    ],
    error_views={410: gone_view},
    redirects={"/old": "/new", "/perm": Redirect("/new", status=301),
               "/elsewhere": Redirect("https://example.org/", external=True)},
)
'''


def write_redirect_site(project: Path) -> Path:
    """Write the site into ``project``; returns it."""
    (project / "data").mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(APP)
    return project
