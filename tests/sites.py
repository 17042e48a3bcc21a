"""Small test sites written to a temporary directory, shared by several test modules."""

from __future__ import annotations

from pathlib import Path

# Strings that break out of a <script> element, or confuse a JavaScript parser, if the
# embedded state is not escaped for its HTML context (reliability.md ESC-01..04).
HOSTILE_STRINGS = [
    "</script><script>window.__pwned = 1</script>",
    "</SCRIPT ><script>window.__pwned = 2</script>",
    "</script\t><img src=x onerror='window.__pwned = 3'>",
    "<!--<script>",
    "-->",
    "<script",
    "\u2028",
    "\u2029",
    "\"'`",
    "${window.__pwned = 4}",
    "\\",
    "&amp; &lt;",
]

ESCAPING_APP = '''\
from html import escape

from perseus import PerseusApp, Template
from hostile import HOSTILE

STATE = {"strings": HOSTILE, "joined": "".join(HOSTILE), HOSTILE[0]: "as a key", "nested": [{"x": HOSTILE}]}


def global_state():
    return {"site": "".join(HOSTILE)}


def head(ctx, state):
    return "<title>" + escape(state["joined"]) + "</title>"


def view(ctx, state):
    return (
        '<h1 id="page">' + escape(state["joined"]) + "</h1>"
        '<p id="global">' + escape(ctx.global_state["site"]) + "</p>"
        '<a id="home" href="' + ctx.link("") + '">home</a>'
    )


app = PerseusApp(
    templates=[
        Template("index", view=lambda ctx, state: '<a id="hostile" href="/hostile">hostile</a>'),
        Template("hostile", view=view, head=head, build_state=lambda info: STATE, embed_state=True),
        Template("scripted", view=view, head=head, build_state=lambda info: STATE, scripts=["probe.js"]),
        Template("quiet", view=view, head=head, build_state=lambda info: STATE),
    ],
    global_state=global_state,
    static_dir="static",
)
'''


def write_escaping_site(project: Path) -> None:
    """A site whose build state, global state and head all hold ``HOSTILE_STRINGS``: embedded
    (``hostile``, ``scripted``, with a page script) and not (``quiet``)."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "hostile.py").write_text(f"HOSTILE = {HOSTILE_STRINGS!r}\n")
    (project / "app.py").write_text(ESCAPING_APP)
    (project / "static").mkdir(exist_ok=True)
    probe = "export function mount(root, page) { root.dataset.probed = '1'; }\n"
    (project / "static" / "probe.js").write_text(probe)


def expected_state() -> dict[str, object]:
    """The build state of the ``hostile`` page, as the app returns it."""
    strings = list(HOSTILE_STRINGS)
    return {"strings": strings, "joined": "".join(strings), strings[0]: "as a key",
            "nested": [{"x": strings}]}


OBSERVED_APP = '''\
from perseus import PerseusApp, Template


async def boom_state(info, request):
    raise ValueError("the upstream said no")


async def post_state(info):
    return {"path": info.path}


app = PerseusApp(templates=[
    Template("index", view=lambda ctx, state: "<h1>Home</h1>" + "<p>text</p>" * 50),
    Template("boom", view=lambda ctx, state: "never", request_state=boom_state),
    Template("post", view=lambda ctx, state: f"<p>{state['path']}</p>", build_paths=lambda: ["a"],
             build_state=post_state, incremental=True, revalidate_after="1h"),
], static_dir="static")
'''


def write_observed_site(project: Path) -> None:
    """A site to watch in production: a built page, a page whose request state fails,
    incremental pages (so a mutable store), and a static file."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(OBSERVED_APP)
    (project / "static").mkdir(exist_ok=True)
    (project / "static" / "hello.txt").write_text("hello from a file\n" * 10)
